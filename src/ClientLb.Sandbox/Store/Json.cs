using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

/// <summary>Small helpers for reading and shaping Kubernetes objects held as JSON.</summary>
internal static class Json
{

    /// <summary>Follows a path of property names; null when any step is missing or not an object.</summary>
    public static JsonElement? Get(this JsonElement e, params ReadOnlySpan<string> path)
    {
        JsonElement cur = e;
        foreach (string p in path)
        {
            if (cur.ValueKind != JsonValueKind.Object || !cur.TryGetProperty(p, out JsonElement next))
            {
                return null;
            }

            cur = next;
        }
        return cur;
    }

    /// <summary>The string at a path, or null when absent or not a string.</summary>
    public static string? Str(this JsonElement e, params ReadOnlySpan<string> path)
    {
        JsonElement? v = e.Get(path);
        return v is { ValueKind: JsonValueKind.String } s ? s.GetString() : null;
    }

    /// <summary>The integer at a path, or null when absent or not a number.</summary>
    public static long? Int(this JsonElement e, params ReadOnlySpan<string> path)
    {
        JsonElement? v = e.Get(path);
        return v is { ValueKind: JsonValueKind.Number } n && n.TryGetInt64(out long l) ? l : null;
    }

    /// <summary>The array items at a path, empty when absent.</summary>
    public static IEnumerable<JsonElement> Items(this JsonElement e, params ReadOnlySpan<string> path)
    {
        JsonElement? v = e.Get(path);
        return v is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray() : [];
    }

    /// <summary>A string map (labels, annotations, matchLabels) at a path.</summary>
    public static Dictionary<string, string> Map(this JsonElement e, params ReadOnlySpan<string> path)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (e.Get(path) is { ValueKind: JsonValueKind.Object } o)
        {
            foreach (JsonProperty p in o.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.String)
                {
                    d[p.Name] = p.Value.GetString()!;
                }
            }
        }

        return d;
    }

    public static JsonNode? Node(this JsonObject o, params ReadOnlySpan<string> path)
    {
        JsonNode? cur = o;
        foreach (string p in path)
        {
            if (cur is not JsonObject co || !co.TryGetPropertyValue(p, out cur))
            {
                return null;
            }
        }
        return cur;
    }

    public static string? Str(this JsonObject o, params ReadOnlySpan<string> path)
        => o.Node(path) is JsonValue v && v.TryGetValue<string>(out string? s) ? s : null;

    /// <summary>Returns the child object, creating it (and replacing a non-object) when needed.</summary>
    public static JsonObject Obj(this JsonObject o, string name)
    {
        if (o[name] is JsonObject existing)
        {
            return existing;
        }

        var created = new JsonObject();
        o[name] = created;
        return created;
    }

    public static JsonObject Metadata(this JsonObject o) => o.Obj("metadata");

    public static JsonObject ToMap(IReadOnlyDictionary<string, string> map)
    {
        var o = new JsonObject();
        foreach ((string? k, string? v) in map)
        {
            o[k] = v;
        }

        return o;
    }

    public static JsonArray Array(IEnumerable<JsonNode?> items)
    {
        var a = new JsonArray();
        foreach (JsonNode? i in items)
        {
            a.Add(i);
        }

        return a;
    }

    public static JsonObject Parse(ReadOnlySpan<byte> utf8, string what)
    {
        try
        {
            return JsonNode.Parse(utf8) as JsonObject
                ?? throw ApiException.BadRequest($"{what} must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"{what} is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>Kubernetes timestamps: RFC 3339 in UTC with second precision.</summary>
    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Compact UTF-8 JSON of a node, without reflection-based serialization.</summary>
    public static byte[] ToUtf8(JsonNode node)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            node.WriteTo(w);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>An integer node as long, whatever CLR type built it (TryGetValue&lt;long&gt; fails on an int-backed value).</summary>
    public static long? AsLong(JsonNode? n)
    {
        if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return null;
        }

        return long.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long l) ? l : null;
    }

    public static JsonElement ToElement(JsonNode node) => JsonDocument.Parse(ToUtf8(node)).RootElement;

    public static bool DeepEquals(JsonNode? a, JsonNode? b) => JsonNode.DeepEquals(a, b);
}
