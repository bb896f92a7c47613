using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

/// <summary>
/// Strategic merge patch (what <c>kubectl apply</c>, <c>edit</c> and <c>patch</c> send) with the upstream patch strategies of
/// the served types: lists merged by their merge keys (Service ports by port and protocol, containers and env by name,
/// container ports by containerPort and protocol, volumes by name, volumeMounts by mountPath, ownerReferences by uid,
/// conditions by type, a ServiceAccount's secrets by name; finalizers as a set), the others replaced whole; and the
/// directives <c>$patch</c> (replace, delete, merge), <c>$retainKeys</c>, <c>$setElementOrder/…</c> and
/// <c>$deleteFromPrimitiveList/…</c>.
/// </summary>
internal static class StrategicMerge
{
    /// <summary>Applies <paramref name="patch"/> to a copy of <paramref name="target"/> of the given kind.</summary>
    public static JsonObject Apply(string kind, JsonObject target, JsonObject patch) =>
        MergeMap(kind, target.DeepClone().AsObject(), patch, "") ?? new JsonObject();

    /// <summary>The merge key of a list at a field path (indices left out), null for atomic lists, [] for sets of primitives.</summary>
    private static string[]? MergeKeys(string kind, string path)
    {
        string field = path[(path.LastIndexOf('.') + 1)..];
        string parent = path.Contains('.') ? path[..path.LastIndexOf('.')] : "";
        string parentField = parent[(parent.LastIndexOf('.') + 1)..];
        bool inPodSpec = kind is "Pod" && path.StartsWith("spec.", StringComparison.Ordinal)
            || kind is "Deployment" or "DaemonSet" && path.StartsWith("spec.template.spec.", StringComparison.Ordinal);
        return (field, parentField) switch
        {
            ("ownerReferences", "metadata") => ["uid"],
            ("finalizers", "metadata") => [],
            ("conditions", "status") => ["type"],
            ("ports", "spec") when kind == "Service" && path == "spec.ports" => ["port", "protocol"],
            ("secrets", "") when kind == "ServiceAccount" => ["name"],
            ("imagePullSecrets", _) when inPodSpec || kind == "ServiceAccount" => ["name"],
            ("containers" or "initContainers" or "ephemeralContainers" or "volumes", "spec") when inPodSpec => ["name"],
            ("ports", "containers" or "initContainers") when inPodSpec => ["containerPort", "protocol"],
            ("env", "containers" or "initContainers") when inPodSpec => ["name"],
            ("volumeMounts", "containers" or "initContainers") when inPodSpec => ["mountPath"],
            _ => null,
        };
    }

    private static JsonObject? MergeMap(string kind, JsonObject original, JsonObject patch, string path)
    {
        patch = patch.DeepClone().AsObject();
        switch (Take(patch, "$patch"))
        {
            case "replace": return patch;
            case "delete": return null;
            case null or "merge": break;
            case var other: throw ApiException.BadRequest($"strategic merge patch at {Where(path)}: unknown $patch directive \"{other}\" (expected replace, delete or merge)");
        }
        if (patch["$retainKeys"] is { } retainNode)
        {
            patch.Remove("$retainKeys");
            var retain = (retainNode as JsonArray ?? throw ApiException.BadRequest($"strategic merge patch at {Where(path)}: $retainKeys must be a list of field names"))
                .Select(n => n?.GetValue<string>()).ToHashSet();
            foreach (string? key in original.Select(kv => kv.Key).Where(k => !retain.Contains(k)).ToList())
            {
                original.Remove(key);
            }
        }
        var orders = new Dictionary<string, JsonArray>(StringComparer.Ordinal);
        foreach ((string? key, JsonNode? value) in patch.ToList())
        {
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal))
            {
                orders[key["$setElementOrder/".Length..]] = value as JsonArray ?? throw ApiException.BadRequest($"strategic merge patch at {Where(path)}: {key} must be a list");
                patch.Remove(key);
            }
            else if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                string field = key["$deleteFromPrimitiveList/".Length..];
                patch.Remove(key);
                if (original[field] is JsonArray list && value is JsonArray remove)
                {
                    foreach (JsonNode? item in list.Where(i => remove.Any(r => JsonNode.DeepEquals(r, i))).ToList())
                    {
                        list.Remove(item);
                    }
                }
            }
            else if (key.StartsWith('$'))
            {
                throw ApiException.BadRequest($"strategic merge patch at {Where(path)}: unknown directive \"{key}\"");
            }
        }
        foreach ((string? key, JsonNode? value) in patch)
        {
            string childPath = path.Length == 0 ? key : $"{path}.{key}";
            JsonNode? existing = original[key];
            JsonNode? merged;
            if (value is null) { original.Remove(key); continue; }
            if (value is JsonObject po && existing is JsonObject eo)
            {
                merged = MergeMap(kind, eo, po, childPath);
            }
            else if (value is JsonObject po2)
            {
                merged = MergeMap(kind, new JsonObject(), po2, childPath);
            }
            else if (value is JsonArray pa && MergeKeys(kind, childPath) is { } keys)
            {
                merged = MergeList(kind, existing as JsonArray ?? [], pa, keys, childPath);
            }
            else
            {
                merged = value.DeepClone();
            }

            original.Remove(key);
            if (merged is not null)
            {
                original[key] = merged;
            }
        }
        foreach ((string? field, JsonArray? order) in orders)
        {
            if (original[field] is JsonArray list && MergeKeys(kind, path.Length == 0 ? field : $"{path}.{field}") is { } keys)
            {
                original[field] = Ordered(list, order, keys);
            }
        }

        return original;
    }

    private static JsonArray MergeList(string kind, JsonArray original, JsonArray patch, string[] keys, string path)
    {
        if (keys.Length == 0)
        {
            // A set of primitives: union, keeping the original order.
            JsonArray union = original.DeepClone().AsArray();
            foreach (JsonNode? item in patch)
            {
                if (!union.Any(u => JsonNode.DeepEquals(u, item)))
                {
                    union.Add(item?.DeepClone());
                }
            }

            return union;
        }
        if (patch.OfType<JsonObject>().Any(p => p.Str("$patch") == "replace"))
        {
            return new JsonArray(patch.OfType<JsonObject>().Where(p => p.Str("$patch") != "replace").Select(p => (JsonNode)p.DeepClone()).ToArray());
        }

        JsonArray result = original.DeepClone().AsArray();
        foreach (JsonNode? item in patch)
        {
            if (item is not JsonObject p)
            {
                throw ApiException.BadRequest($"strategic merge patch at {Where(path)}: list items must be objects with {string.Join(" and ", keys)}");
            }

            int index = IndexOf(result, p, keys);
            if (p.Str("$patch") == "delete")
            {
                if (index >= 0)
                {
                    result.RemoveAt(index);
                }

                continue;
            }
            if (index >= 0)
            {
                JsonObject? merged = MergeMap(kind, result[index]!.AsObject(), p, path);
                result.RemoveAt(index);
                if (merged is not null)
                {
                    result.Insert(index, merged);
                }
            }
            else if (MergeMap(kind, new JsonObject(), p, path) is { } added)
            {
                result.Add((JsonNode)added);
            }
        }
        return result;
    }

    /// <summary>Orders a merged list as <c>$setElementOrder</c> says; items it does not name keep their place after those it does.</summary>
    private static JsonArray Ordered(JsonArray list, JsonArray order, string[] keys)
    {
        var items = list.Select(i => i!.DeepClone()).ToList();
        var sorted = new List<JsonNode>();
        foreach (JsonObject o in order.OfType<JsonObject>())
        {
            int i = items.FindIndex(x => x is JsonObject xo && Matches(xo, o, keys));
            if (i >= 0) { sorted.Add(items[i]); items.RemoveAt(i); }
        }
        sorted.AddRange(items);
        return new JsonArray(sorted.ToArray());
    }

    private static int IndexOf(JsonArray list, JsonObject item, string[] keys)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is JsonObject o && Matches(o, item, keys))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Same merge key; a protocol left out on either side is TCP, the API's default.</summary>
    private static bool Matches(JsonObject a, JsonObject b, string[] keys) => keys.All(k =>
        k == "protocol"
            ? (a.Str(k) ?? "TCP") == (b.Str(k) ?? "TCP")
            : JsonNode.DeepEquals(a[k], b[k]));

    private static string? Take(JsonObject o, string key)
    {
        if (o[key] is not { } v)
        {
            return null;
        }

        o.Remove(key);
        return v.GetValue<string>();
    }

    private static string Where(string path) => path.Length == 0 ? "the top level" : path;
}
