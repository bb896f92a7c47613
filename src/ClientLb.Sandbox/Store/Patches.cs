using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

/// <summary>
/// Patch formats: JSON merge patch (RFC 7386), strategic merge patch (<see cref="StrategicMerge"/>) and JSON patch (RFC 6902).
/// </summary>
internal static class Patches
{
    public const string Merge = "application/merge-patch+json";
    public const string Strategic = "application/strategic-merge-patch+json";
    public const string JsonPatch = "application/json-patch+json";
    public const string ApplyPatch = "application/apply-patch+yaml";

    public static JsonObject Apply(JsonObject target, byte[] patch, string contentType)
    {
        string mediaType = contentType.Split(';')[0].Trim().ToLowerInvariant();
        switch (mediaType)
        {
            case Merge:
                return (JsonObject)MergePatch(target, Json.Parse(patch, "the merge patch"))!;
            case Strategic:
                return StrategicMerge.Apply(target.Str("kind") ?? "", target, Json.Parse(patch, "the strategic merge patch"));
            case JsonPatch:
                return ApplyJsonPatch(target, patch);
            case ApplyPatch:
                throw new ApiException(415, "UnsupportedMediaType", "server-side apply (application/apply-patch+yaml) is not supported by the sandbox; use kubectl create/replace/patch or client-side apply");
            default:
                throw ApiException.UnsupportedMediaType(contentType);
        }
    }

    /// <summary>RFC 7386: objects merge recursively, null deletes, anything else replaces.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject po)
        {
            return patch?.DeepClone();
        }

        JsonObject result = target as JsonObject ?? new JsonObject();
        foreach ((string? key, JsonNode? value) in po)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                JsonNode? existing = result[key];
                result.Remove(key);
                result[key] = MergePatch(existing?.DeepClone(), value);
            }
        }
        return result;
    }

    private static JsonObject ApplyJsonPatch(JsonObject target, byte[] patch)
    {
        JsonArray ops;
        try { ops = JsonNode.Parse(patch) as JsonArray ?? throw ApiException.BadRequest("a JSON patch must be an array of operations"); }
        catch (System.Text.Json.JsonException ex) { throw ApiException.BadRequest($"the JSON patch is not valid JSON: {ex.Message}"); }
        JsonNode doc = target;
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i] is not JsonObject op)
            {
                throw ApiException.BadRequest($"JSON patch operation {i} must be an object");
            }

            string name = op.Str("op") ?? throw ApiException.BadRequest($"JSON patch operation {i} has no \"op\"");
            string path = op.Str("path") ?? throw ApiException.BadRequest($"JSON patch operation {i} ({name}) has no \"path\"");
            switch (name)
            {
                case "add": doc = Add(doc, path, Value(op, i), i); break;
                case "remove": doc = Remove(doc, path, i, out _); break;
                case "replace": doc = Remove(doc, path, i, out _); doc = Add(doc, path, Value(op, i), i); break;
                case "move":
                    string from = op.Str("from") ?? throw ApiException.BadRequest($"JSON patch operation {i} (move) has no \"from\"");
                    doc = Remove(doc, from, i, out JsonNode? moved);
                    doc = Add(doc, path, moved, i);
                    break;
                case "copy":
                    string src = op.Str("from") ?? throw ApiException.BadRequest($"JSON patch operation {i} (copy) has no \"from\"");
                    doc = Add(doc, path, Resolve(doc, src, i)?.DeepClone(), i);
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Resolve(doc, path, i), op["value"]))
                    {
                        throw new ApiException(422, "Invalid", $"JSON patch test operation {i} failed: the value at \"{path}\" differs");
                    }

                    break;
                default: throw ApiException.BadRequest($"JSON patch operation {i} has unknown op \"{name}\"");
            }
        }
        return doc as JsonObject ?? throw ApiException.BadRequest("the JSON patch must leave an object");
    }

    private static JsonNode? Value(JsonObject op, int i) =>
        op.ContainsKey("value") ? op["value"]?.DeepClone() : throw ApiException.BadRequest($"JSON patch operation {i} has no \"value\"");

    private static string[] Tokens(string path, int i)
    {
        if (path.Length == 0)
        {
            return [];
        }

        if (path[0] != '/')
        {
            throw ApiException.BadRequest($"JSON patch operation {i}: path \"{path}\" must start with '/'");
        }

        return path[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();
    }

    private static JsonNode? Resolve(JsonNode doc, string path, int i)
    {
        JsonNode? cur = doc;
        foreach (string t in Tokens(path, i))
        {
            cur = cur switch
            {
                JsonObject o when o.ContainsKey(t) => o[t],
                JsonArray a when int.TryParse(t, out int idx) && idx >= 0 && idx < a.Count => a[idx],
                _ => throw new ApiException(422, "Invalid", $"JSON patch operation {i}: path \"{path}\" does not exist"),
            };
        }

        return cur;
    }

    private static JsonNode Add(JsonNode doc, string path, JsonNode? value, int i)
    {
        string[] tokens = Tokens(path, i);
        if (tokens.Length == 0)
        {
            return value ?? throw ApiException.BadRequest($"JSON patch operation {i}: cannot replace the document with null");
        }

        JsonNode? parent = Resolve(doc, ParentPath(tokens), i);
        string last = tokens[^1];
        switch (parent)
        {
            case JsonObject o: o[last] = value; break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(last, out int idx) && idx >= 0 && idx <= a.Count: a.Insert(idx, value); break;
            default: throw new ApiException(422, "Invalid", $"JSON patch operation {i}: cannot add at \"{path}\"");
        }
        return doc;
    }

    private static JsonNode Remove(JsonNode doc, string path, int i, out JsonNode? removed)
    {
        string[] tokens = Tokens(path, i);
        if (tokens.Length == 0)
        {
            throw ApiException.BadRequest($"JSON patch operation {i}: cannot remove the whole document");
        }

        JsonNode? parent = Resolve(doc, ParentPath(tokens), i);
        string last = tokens[^1];
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last): removed = o[last]; o.Remove(last); break;
            case JsonArray a when int.TryParse(last, out int idx) && idx >= 0 && idx < a.Count: removed = a[idx]; a.RemoveAt(idx); break;
            default: throw new ApiException(422, "Invalid", $"JSON patch operation {i}: path \"{path}\" does not exist");
        }
        removed = removed?.DeepClone();
        return doc;
    }

    private static string ParentPath(string[] tokens) => tokens.Length == 1 ? "" : "/" + string.Join('/', tokens[..^1].Select(Escape));

    private static string Escape(string t) => t.Replace("~", "~0").Replace("/", "~1");
}
