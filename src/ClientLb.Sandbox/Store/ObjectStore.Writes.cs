using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

internal sealed partial class ObjectStore
{
    private const string NameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    /// <summary>Random suffix in the alphabet Kubernetes uses for generateName (no vowels, no look-alikes).</summary>
    public static string RandomSuffix(int length = 5) =>
        string.Create(length, 0, (span, _) => { for (int i = 0; i < span.Length; i++) { span[i] = NameAlphabet[Random.Shared.Next(NameAlphabet.Length)]; } });

    /// <summary>Creates an object (POST). <paramref name="ns"/> is the namespace from the URL.</summary>
    public StoredObject Create(ResourceType t, string? ns, JsonObject obj)
    {
        lock (_lock)
        {
            CheckTypeMeta(t, obj);
            JsonObject meta = obj.Metadata();
            ns = ResolveNamespace(t, ns, meta);
            string? name = meta.Str("name");
            if (string.IsNullOrEmpty(name))
            {
                string? generate = meta.Str("generateName");
                if (string.IsNullOrEmpty(generate))
                {
                    throw ApiException.Invalid(t, "", [new("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")]);
                }

                do
                {
                    name = generate + RandomSuffix();
                }
                while (_data[t].ContainsKey(Key(t, ns, name)));
                meta["name"] = name;
            }
            if (t.Namespaced)
            {
                RequireLiveNamespace(ns!);
            }

            if (_data[t].ContainsKey(Key(t, ns, name)))
            {
                throw ApiException.AlreadyExists(t, name);
            }

            List<StatusCause> metaCauses = MetadataCauses(t, obj);
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Json.Timestamp(_time.GetUtcNow());
            meta["generation"] = 1;
            foreach (string? f in new[] { "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink" })
            {
                meta.Remove(f);
            }
            // Report metadata and spec problems together, as the API server does.
            try { _strategies[t].PrepareForCreate(obj, this); }
            catch (ApiException ex) when (ex.Code == 422 && metaCauses.Count > 0) { throw ApiException.Invalid(t, name, [.. metaCauses, .. ex.Causes]); }
            if (metaCauses.Count > 0)
            {
                _strategies[t].OnRemoved(StoredObject.From(t, obj)); // give back what the strategy allocated
                throw ApiException.Invalid(t, name, metaCauses);
            }

            meta["resourceVersion"] = (++_rv).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var stored = StoredObject.From(t, obj);
            _data[t][stored.Key] = stored;
            Commit(new WatchEvent(WatchEventType.Added, stored, null, _rv));
            return stored;
        }
    }

    /// <summary>Replaces an object (PUT). A resourceVersion in the body must match the stored one (409 otherwise).</summary>
    public StoredObject Update(ResourceType t, string? ns, string name, JsonObject obj, UpdateMode mode)
    {
        lock (_lock)
        {
            CheckTypeMeta(t, obj);
            JsonObject meta = obj.Metadata();
            string? bodyName = meta.Str("name");
            if (!string.IsNullOrEmpty(bodyName) && bodyName != name)
            {
                throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
            }

            meta["name"] = name;
            ns = ResolveNamespace(t, ns, meta);
            StoredObject current = _data[t].GetValueOrDefault(Key(t, ns, name)) ?? throw ApiException.NotFound(t, name);
            string? bodyRv = meta.Str("resourceVersion");
            if (!string.IsNullOrEmpty(bodyRv) && bodyRv != current.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw ApiException.Conflict(t, name, "the object has been modified; please apply your changes to the latest version and try again");
            }

            JsonObject old = current.ToMutable();
            if (mode == UpdateMode.Status)
            {
                // Only status moves; everything else stays as stored.
                JsonNode? status = obj["status"]?.DeepClone();
                obj = old.DeepClone().AsObject();
                if (status is null)
                {
                    obj.Remove("status");
                }
                else
                {
                    obj["status"] = status;
                }

                meta = obj.Metadata();
            }
            else if (mode == UpdateMode.Main && t.HasStatus)
            {
                JsonNode? oldStatus = old["status"]?.DeepClone();
                if (oldStatus is null)
                {
                    obj.Remove("status");
                }
                else
                {
                    obj["status"] = oldStatus;
                }
            }
            JsonObject oldMeta = old.Metadata();
            foreach (string? f in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation" })
            {
                if (oldMeta[f] is { } v)
                {
                    meta[f] = v.DeepClone();
                }
                else
                {
                    meta.Remove(f);
                }
            }
            if (!Json.DeepEquals(obj["spec"], old["spec"]))
            {
                meta["generation"] = (Json.AsLong(oldMeta["generation"]) ?? 1) + 1;
            }

            List<StatusCause> metaCauses = MetadataCauses(t, obj);
            try { _strategies[t].PrepareForUpdate(obj, current, mode, this); }
            catch (ApiException ex) when (ex.Code == 422 && metaCauses.Count > 0) { throw ApiException.Invalid(t, name, [.. metaCauses, .. ex.Causes]); }
            if (metaCauses.Count > 0)
            {
                throw ApiException.Invalid(t, name, metaCauses);
            }

            meta["resourceVersion"] = old.Metadata()["resourceVersion"]?.DeepClone();
            if (Json.DeepEquals(obj, old))
            {
                return current; // no-op updates do not bump the resourceVersion
            }

            // An object waiting only for its finalizers goes once the last one is removed.
            if (meta["deletionTimestamp"] is not null && Json.AsLong(meta["deletionGracePeriodSeconds"]) == 0 && !HasFinalizers(obj))
            {
                return RemoveLocked(t, current, obj);
            }

            meta["resourceVersion"] = (++_rv).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var stored = StoredObject.From(t, obj);
            _data[t][stored.Key] = stored;
            Commit(new WatchEvent(WatchEventType.Modified, stored, current, _rv));
            return stored;
        }
    }

    /// <summary>Read-modify-write under the lock: no conflicts, for patches and controllers.</summary>
    public StoredObject Mutate(ResourceType t, string? ns, string name, Func<JsonObject, JsonObject> change, UpdateMode mode)
    {
        lock (_lock)
        {
            StoredObject current = _data[t].GetValueOrDefault(Key(t, ns, name)) ?? throw ApiException.NotFound(t, name);
            JsonObject changed = change(current.ToMutable());
            return Update(t, ns, name, changed, mode);
        }
    }

    /// <summary>
    /// Deletes an object. Pods (graceful) and objects with finalizers are only marked with a deletionTimestamp;
    /// returns the object's last state and whether it is gone.
    /// </summary>
    public (StoredObject Object, bool Removed) Delete(ResourceType t, string? ns, string name, DeleteOptions options)
    {
        lock (_lock)
        {
            StoredObject current = _data[t].GetValueOrDefault(Key(t, ns, name)) ?? throw ApiException.NotFound(t, name);
            if (options.PreconditionUid is { Length: > 0 } uid && uid != current.Uid)
            {
                throw ApiException.Conflict(t, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
            }

            if (options.PreconditionResourceVersion is { Length: > 0 } prv && prv != current.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw ApiException.Conflict(t, name, $"Precondition failed: ResourceVersion in precondition: {prv}, ResourceVersion in object meta: {current.ResourceVersion}");
            }

            if (options.GracePeriodSeconds is < 0)
            {
                throw ApiException.Invalid(t, name, [new("FieldValueInvalid", "gracePeriodSeconds", $"Invalid value: {options.GracePeriodSeconds}: must be greater than or equal to 0")]);
            }

            JsonObject obj = current.ToMutable();
            DateTimeOffset now = _time.GetUtcNow();
            if (_strategies[t].BeginGracefulDelete(obj, current, options.GracePeriodSeconds, now))
            {
                return (CommitMarked(t, current, obj), false);
            }

            if (HasFinalizers(obj))
            {
                JsonObject meta = obj.Metadata();
                if (meta["deletionTimestamp"] is not null)
                {
                    return (current, false);
                }

                meta["deletionTimestamp"] = Json.Timestamp(now);
                meta["deletionGracePeriodSeconds"] = 0;
                return (CommitMarked(t, current, obj), false);
            }
            return (RemoveLocked(t, current, obj), true);
        }
    }

    private StoredObject CommitMarked(ResourceType t, StoredObject current, JsonObject obj)
    {
        if (Json.DeepEquals(obj, current.ToMutable()))
        {
            return current;
        }

        obj.Metadata()["resourceVersion"] = (++_rv).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var stored = StoredObject.From(t, obj);
        _data[t][stored.Key] = stored;
        Commit(new WatchEvent(WatchEventType.Modified, stored, current, _rv));
        return stored;
    }

    private StoredObject RemoveLocked(ResourceType t, StoredObject current, JsonObject lastState)
    {
        _data[t].Remove(current.Key);
        lastState.Metadata()["resourceVersion"] = (++_rv).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var gone = StoredObject.From(t, lastState);
        _strategies[t].OnRemoved(gone);
        Commit(new WatchEvent(WatchEventType.Deleted, gone, current, _rv));
        return gone;
    }

    /// <summary>Removes an object regardless of grace periods (kubelet after termination, namespace finalization).</summary>
    public bool Remove(ResourceType t, string? ns, string name, string? expectedUid = null)
    {
        lock (_lock)
        {
            StoredObject? current = _data[t].GetValueOrDefault(Key(t, ns, name));
            if (current is null || (expectedUid is not null && current.Uid != expectedUid))
            {
                return false;
            }

            RemoveLocked(t, current, current.ToMutable());
            return true;
        }
    }

    private static bool HasFinalizers(JsonObject obj) => obj.Node("metadata", "finalizers") is JsonArray { Count: > 0 };

    private static void CheckTypeMeta(ResourceType t, JsonObject obj)
    {
        string? apiVersion = obj.Str("apiVersion");
        string? kind = obj.Str("kind");
        if (!string.IsNullOrEmpty(apiVersion) && apiVersion != t.ApiVersion)
        {
            throw ApiException.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({t.ApiVersion})");
        }

        if (!string.IsNullOrEmpty(kind) && kind != t.Kind)
        {
            throw ApiException.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({t.Kind}) for {t}");
        }

        obj["apiVersion"] = t.ApiVersion;
        obj["kind"] = t.Kind;
        if (obj["metadata"] is not null and not JsonObject)
        {
            throw ApiException.BadRequest("metadata must be an object");
        }
    }

    private static string? ResolveNamespace(ResourceType t, string? ns, JsonObject meta)
    {
        if (!t.Namespaced) { meta.Remove("namespace"); return null; }
        string? bodyNs = meta.Str("namespace");
        if (string.IsNullOrEmpty(ns))
        {
            ns = string.IsNullOrEmpty(bodyNs) ? "default" : bodyNs;
        }

        if (!string.IsNullOrEmpty(bodyNs) && bodyNs != ns)
        {
            throw ApiException.BadRequest($"the namespace of the provided object ({bodyNs}) does not match the namespace sent on the request ({ns})");
        }

        meta["namespace"] = ns;
        return ns;
    }

    private void RequireLiveNamespace(string ns)
    {
        StoredObject n = _data[ResourceTypes.Namespaces].GetValueOrDefault("/" + ns) ?? throw ApiException.NotFound(ResourceTypes.Namespaces, ns);
        if (n.IsDeleting)
        {
            throw ApiException.Forbidden($"unable to create new content in namespace {ns} because it is being terminated");
        }
    }

    private static List<StatusCause> MetadataCauses(ResourceType t, JsonObject obj)
    {
        JsonObject meta = obj.Metadata();
        string name = meta.Str("name") ?? "";
        var causes = new List<StatusCause>();
        if (Validation.NameError(t.NameRule, name) is { } nameErr)
        {
            causes.Add(new("FieldValueInvalid", "metadata.name", $"Invalid value: \"{name}\": {nameErr}"));
        }

        if (t.Namespaced && Validation.Dns1123LabelError(meta.Str("namespace") ?? "") is { } nsErr)
        {
            causes.Add(new("FieldValueInvalid", "metadata.namespace", $"Invalid value: \"{meta.Str("namespace")}\": {nsErr}"));
        }

        CheckStringMap(meta, "labels", causes, labels: true);
        CheckStringMap(meta, "annotations", causes, labels: false);
        return causes;
    }

    private static void CheckStringMap(JsonObject meta, string field, List<StatusCause> causes, bool labels)
    {
        if (meta[field] is null)
        {
            return;
        }

        if (meta[field] is not JsonObject map) { causes.Add(new("FieldValueInvalid", $"metadata.{field}", "Invalid value: must be a map of strings")); return; }
        foreach ((string? k, JsonNode? v) in map)
        {
            if (v is not JsonValue jv || !jv.TryGetValue<string>(out string? s))
            {
                causes.Add(new("FieldValueInvalid", $"metadata.{field}.{k}", $"Invalid value: {v?.ToJsonString() ?? "null"}: must be a string"));
                continue;
            }
            if (Validation.LabelKeyError(k) is { } keyErr)
            {
                causes.Add(new("FieldValueInvalid", $"metadata.{field}", $"Invalid value: \"{k}\": {keyErr}"));
            }

            if (labels && Validation.LabelValueError(s) is { } valErr)
            {
                causes.Add(new("FieldValueInvalid", $"metadata.{field}", $"Invalid value: \"{s}\": {valErr}"));
            }
        }
    }
}
