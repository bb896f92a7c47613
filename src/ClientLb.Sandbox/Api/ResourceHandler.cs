using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>The resource verbs: get, list, create, update, patch, delete, deletecollection (watch lives in <see cref="WatchHandler"/>).</summary>
internal sealed class ResourceHandler(ObjectStore store, WatchHandler watches, Subresources pods)
{
    public async Task HandleAsync(HttpContext ctx, ApiPath p)
    {
        ResourceType t = p.Type!;
        if (t.Namespaced && p.Namespace is null && p.Name is not null)
        {
            throw ApiException.NotFoundPath(ctx.Request.Path);
        }

        if (ctx.Request.Query.ContainsKey("dryRun"))
        {
            throw ApiException.BadRequest("dryRun is not supported by the sandbox API server (remove --dry-run=server)");
        }

        string method = ctx.Request.Method;
        if (t.ReadOnlyBecause is { } readOnly && method is not "GET")
        {
            throw ApiException.MethodNotAllowed($"{t} {(p.Name is null ? "" : $"\"{p.Name}\" ")}cannot be changed by a client ({method}): {readOnly}");
        }

        if (p.Name is null)
        {
            switch (method)
            {
                case "GET" when p.LegacyWatch || HttpIo.Flag(ctx.Request.Query["watch"]): await watches.HandleAsync(ctx, t, p.Namespace); return;
                case "GET": await ListAsync(ctx, t, p.Namespace); return;
                case "POST": await CreateAsync(ctx, t, p.Namespace); return;
                case "DELETE": await DeleteCollectionAsync(ctx, t, p.Namespace); return;
                default: throw ApiException.MethodNotAllowed($"the server does not allow this method on the requested resource ({method} {t})");
            }
        }
        if (p.LegacyWatch) { await watches.HandleAsync(ctx, t, p.Namespace, p.Name); return; }
        if (Subresources.Handles(t, p.Subresource)) { await pods.HandleAsync(ctx, p.Namespace!, p.Name, p.Subresource!); return; }
        switch (p.Subresource)
        {
            case null:
                switch (method)
                {
                    case "GET": await GetAsync(ctx, t, p.Namespace, p.Name); return;
                    case "PUT": await UpdateAsync(ctx, t, p.Namespace, p.Name, UpdateMode.Main); return;
                    case "PATCH": await PatchAsync(ctx, t, p.Namespace, p.Name, UpdateMode.Main); return;
                    case "DELETE": await DeleteAsync(ctx, t, p.Namespace, p.Name); return;
                }
                break;
            case "status" when t.HasStatus:
                switch (method)
                {
                    case "GET": await GetAsync(ctx, t, p.Namespace, p.Name); return;
                    case "PUT": await UpdateAsync(ctx, t, p.Namespace, p.Name, UpdateMode.Status); return;
                    case "PATCH": await PatchAsync(ctx, t, p.Namespace, p.Name, UpdateMode.Status); return;
                }
                break;
            case "scale" when t.HasScale:
                switch (method)
                {
                    case "GET": await HttpIo.WriteJsonAsync(ctx, 200, Scale.From(store.GetRequired(t, p.Namespace, p.Name))); return;
                    case "PUT": await ScaleAsync(ctx, t, p.Namespace, p.Name, await HttpIo.ReadObjectAsync(ctx, "the Scale object")); return;
                    case "PATCH":
                        JsonObject current = Scale.From(store.GetRequired(t, p.Namespace, p.Name));
                        current.Metadata().Remove("resourceVersion"); // only a version in the patch itself is a precondition
                        JsonObject patched = Patches.Apply(current, await HttpIo.ReadBodyAsync(ctx), ctx.Request.ContentType ?? "");
                        await ScaleAsync(ctx, t, p.Namespace, p.Name, patched);
                        return;
                }
                break;
            default:
                throw ApiException.NotFoundPath(ctx.Request.Path);
        }
        throw ApiException.MethodNotAllowed($"the server does not allow this method on the requested resource ({method} {t}/{p.Subresource})");
    }

    private async Task GetAsync(HttpContext ctx, ResourceType t, string? ns, string name)
    {
        ResponseShape shape = Negotiation.Choose(ctx.Request.Headers.Accept);
        StoredObject o = store.GetRequired(t, ns, name);
        switch (shape)
        {
            case ResponseShape.Table:
                await HttpIo.WriteJsonAsync(ctx, 200, TableConverter.ToTable(t, [o], IncludeFrom(ctx), store.Time.GetUtcNow(), null, null));
                break;
            case ResponseShape.PartialObjectMetadata:
                await HttpIo.WriteJsonAsync(ctx, 200, TableConverter.PartialMetadata(o));
                break;
            default:
                await HttpIo.WriteRawAsync(ctx, 200, o.Utf8);
                break;
        }
    }

    public static IncludeObject IncludeFrom(HttpContext ctx) => ctx.Request.Query["includeObject"].ToString() switch
    {
        "" or "Metadata" => IncludeObject.Metadata,
        "None" => IncludeObject.None,
        "Object" => IncludeObject.Object,
        var other => throw ApiException.BadRequest($"includeObject \"{other}\" is not one of None, Metadata, Object"),
    };

    private async Task ListAsync(HttpContext ctx, ResourceType t, string? ns)
    {
        IQueryCollection q = ctx.Request.Query;
        ResponseShape shape = Negotiation.Choose(ctx.Request.Headers.Accept);
        var labels = LabelSelector.Parse(q["labelSelector"]);
        var fields = FieldSelector.Parse(q["fieldSelector"], t);
        HttpIo.TryLong(q["limit"], "limit", out long? limit);
        CheckListVersion(q["resourceVersion"], q["resourceVersionMatch"]);
        ListResult result = store.List(t, ns, labels, fields, limit is > 0 ? (int)Math.Min(limit.Value, int.MaxValue) : null, q["continue"]);

        if (shape == ResponseShape.Table)
        {
            await HttpIo.WriteJsonAsync(ctx, 200, TableConverter.ToTable(t, result.Items, IncludeFrom(ctx), store.Time.GetUtcNow(), result.ResourceVersion, result.Continue));
            return;
        }
        if (HttpIo.WantsProtobuf(ctx))
        {
            await HttpIo.WriteJsonAsync(ctx, 200, ProtobufLists.Build(t, result, shape == ResponseShape.PartialObjectMetadata));
            return;
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        var w = new Utf8JsonWriter(ctx.Response.BodyWriter);
        w.WriteStartObject();
        w.WriteString("kind", shape == ResponseShape.PartialObjectMetadata ? "PartialObjectMetadataList" : t.ListKind);
        w.WriteString("apiVersion", shape == ResponseShape.PartialObjectMetadata ? "meta.k8s.io/v1" : t.ApiVersion);
        w.WriteStartObject("metadata");
        w.WriteString("resourceVersion", result.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (result.Continue is not null)
        {
            w.WriteString("continue", result.Continue);
        }

        if (result.RemainingItemCount is not null)
        {
            w.WriteNumber("remainingItemCount", result.RemainingItemCount.Value);
        }

        w.WriteEndObject();
        w.WriteStartArray("items");
        foreach (StoredObject o in result.Items)
        {
            if (shape == ResponseShape.PartialObjectMetadata)
            {
                TableConverter.PartialMetadata(o).WriteTo(w);
            }
            else
            {
                w.WriteRawValue(o.Utf8, skipInputValidation: true);
            }

            if (w.BytesPending > 64 * 1024) { await w.FlushAsync(ctx.RequestAborted); await ctx.Response.BodyWriter.FlushAsync(ctx.RequestAborted); }
        }
        w.WriteEndArray();
        w.WriteEndObject();
        await w.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>List semantics of resourceVersion/resourceVersionMatch against a store that keeps no old snapshots.</summary>
    private void CheckListVersion(string? rv, string? match)
    {
        if (!string.IsNullOrEmpty(match) && match is not ("Exact" or "NotOlderThan"))
        {
            throw ApiException.BadRequest($"resourceVersionMatch \"{match}\" is not one of Exact, NotOlderThan");
        }

        if (!HttpIo.TryLong(rv, "resourceVersion", out long? n))
        {
            if (!string.IsNullOrEmpty(match))
            {
                throw ApiException.BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided");
            }

            return;
        }
        long current = store.ResourceVersion;
        if (n > current)
        {
            throw new ApiException(504, "Timeout", $"Too large resource version: {n}, current: {current}");
        }

        if (match == "Exact" && n != current)
        {
            throw ApiException.Expired($"too old resource version: {n} ({current}): the sandbox serves exact lists only at the current resourceVersion");
        }
    }

    private async Task CreateAsync(HttpContext ctx, ResourceType t, string? ns)
    {
        JsonObject obj = await HttpIo.ReadObjectAsync(ctx, $"the {t.Kind} object");
        FieldValidation.Check(ctx, t, obj);
        StoredObject created = store.Create(t, ns, obj);
        await HttpIo.WriteRawAsync(ctx, 201, created.Utf8);
    }

    private async Task UpdateAsync(HttpContext ctx, ResourceType t, string? ns, string name, UpdateMode mode)
    {
        JsonObject obj = await HttpIo.ReadObjectAsync(ctx, $"the {t.Kind} object");
        FieldValidation.Check(ctx, t, obj);
        StoredObject updated = store.Update(t, ns, name, obj, mode);
        await HttpIo.WriteRawAsync(ctx, 200, updated.Utf8);
    }

    private async Task PatchAsync(HttpContext ctx, ResourceType t, string? ns, string name, UpdateMode mode)
    {
        byte[] patch = await HttpIo.ReadBodyAsync(ctx);
        string contentType = ctx.Request.ContentType ?? "";
        StoredObject updated = store.Mutate(t, ns, name, current =>
        {
            JsonObject patched = Patches.Apply(current, patch, contentType);
            FieldValidation.Check(ctx, t, patched);
            return patched;
        }, mode);
        await HttpIo.WriteRawAsync(ctx, 200, updated.Utf8);
    }

    private async Task ScaleAsync(HttpContext ctx, ResourceType t, string? ns, string name, JsonObject scale)
    {
        long? replicas = Json.AsLong(scale.Node("spec", "replicas")) is long r ? r : (long?)null;
        if (replicas is null or < 0)
        {
            throw new ApiException(422, "Invalid", $"Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {scale.Node("spec", "replicas")?.ToJsonString() ?? "null"}: must be greater than or equal to 0")
            { DetailsName = name, DetailsGroup = "autoscaling", DetailsKind = "Scale", Causes = [new("FieldValueInvalid", "spec.replicas", "must be greater than or equal to 0")] };
        }

        string? rv = scale.Str("metadata", "resourceVersion");
        StoredObject updated = store.Mutate(t, ns, name, d =>
        {
            if (!string.IsNullOrEmpty(rv) && rv != d.Str("metadata", "resourceVersion"))
            {
                throw ApiException.Conflict(t, name, "the object has been modified; please apply your changes to the latest version and try again");
            }

            d.Obj("spec")["replicas"] = replicas;
            return d;
        }, UpdateMode.Main);
        await HttpIo.WriteJsonAsync(ctx, 200, Scale.From(updated));
    }

    private async Task DeleteAsync(HttpContext ctx, ResourceType t, string? ns, string name)
    {
        DeleteOptions options = await ReadDeleteOptionsAsync(ctx);
        (StoredObject? obj, bool _) = store.Delete(t, ns, name, options);
        await HttpIo.WriteRawAsync(ctx, 200, obj.Utf8);
    }

    private async Task DeleteCollectionAsync(HttpContext ctx, ResourceType t, string? ns)
    {
        DeleteOptions options = await ReadDeleteOptionsAsync(ctx);
        var labels = LabelSelector.Parse(ctx.Request.Query["labelSelector"]);
        var fields = FieldSelector.Parse(ctx.Request.Query["fieldSelector"], t);
        IReadOnlyList<StoredObject> targets = store.List(t, ns, labels, fields, null, null).Items;
        var deleted = new List<StoredObject>();
        foreach (StoredObject o in targets)
        {
            try { deleted.Add(store.Delete(t, o.Namespace, o.Name, options).Object); }
            catch (ApiException ex) when (ex.Code == 404) { } // raced with another delete
        }
        var list = new JsonObject
        {
            ["kind"] = t.ListKind,
            ["apiVersion"] = t.ApiVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = store.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            ["items"] = Json.Array(deleted.Select(d => (JsonNode)d.ToMutable())),
        };
        await HttpIo.WriteJsonAsync(ctx, 200, list);
    }

    private static async Task<DeleteOptions> ReadDeleteOptionsAsync(HttpContext ctx)
    {
        HttpIo.TryLong(ctx.Request.Query["gracePeriodSeconds"], "gracePeriodSeconds", out long? grace);
        string? uid = null, rv = null;
        byte[] body = await HttpIo.ReadBodyAsync(ctx);
        if (body.Length > 0)
        {
            JsonObject o = HttpIo.ParseObject(ctx, body, "the DeleteOptions body");
            if (o["gracePeriodSeconds"] is JsonValue g)
            {
                grace = Json.AsLong(g) is long gv ? gv : throw ApiException.BadRequest("DeleteOptions.gracePeriodSeconds must be an integer");
            }

            uid = o.Str("preconditions", "uid");
            rv = o.Str("preconditions", "resourceVersion");
            if (o.Str("dryRun") is not null || o["dryRun"] is JsonArray { Count: > 0 })
            {
                throw ApiException.BadRequest("dryRun is not supported by the sandbox API server");
            }
        }
        return new DeleteOptions(grace, uid, rv);
    }
}
