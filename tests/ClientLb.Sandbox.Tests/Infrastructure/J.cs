using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Tests.Infrastructure;

/// <summary>Terse JSON path reads for assertions.</summary>
public static class J
{
    public static JsonNode? At(this JsonNode? n, params string[] path)
    {
        foreach (string p in path)
        {
            n = n switch
            {
                JsonObject o => o[p],
                JsonArray a when int.TryParse(p, out int i) && i < a.Count => a[i],
                _ => null,
            };
        }

        return n;
    }

    public static string? S(this JsonNode? n, params string[] path) => n.At(path) is JsonValue v && v.TryGetValue<string>(out string? s) ? s : null;

    public static long? L(this JsonNode? n, params string[] path) => n.At(path) is JsonValue v && v.TryGetValue<long>(out long l) ? l : null;

    public static JsonArray Arr(this JsonNode? n, params string[] path) => n.At(path) as JsonArray ?? [];
}
