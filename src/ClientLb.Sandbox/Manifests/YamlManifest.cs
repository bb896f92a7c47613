using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ClientLb.Sandbox.Manifests;

/// <summary>
/// Turns a (multi-document) YAML manifest into JSON objects. Plain scalars follow YAML 1.2's core schema
/// (numbers, booleans, null); quoted scalars stay strings, so "80" and 80 differ as in kubectl.
/// </summary>
internal static class YamlManifest
{
    public static List<JsonObject> Parse(string yaml)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException ex) { throw new FormatException($"The manifest is not valid YAML (line {ex.Start.Line}, column {ex.Start.Column}): {ex.Message}", ex); }
        var result = new List<JsonObject>();
        for (int i = 0; i < stream.Documents.Count; i++)
        {
            YamlNode root = stream.Documents[i].RootNode;
            if (root is YamlScalarNode { Value: null or "" } || root is YamlScalarNode s && s.Style == ScalarStyle.Plain && s.Value is "~" or "null")
            {
                continue; // empty document between separators
            }

            if (Convert(root) is not JsonObject o)
            {
                throw new FormatException($"Document {i + 1} of the manifest is not a mapping (an object with apiVersion, kind, metadata)");
            }

            if (o.Str("kind") == "List" && o["items"] is JsonArray items)
            {
                result.AddRange(items.OfType<JsonObject>().Select(x => (JsonObject)x.DeepClone()));
            }
            else
            {
                result.Add(o);
            }
        }
        return result;
    }

    private static string? Str(this JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<string>(out string? s) ? s : null;

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => ConvertMapping(m),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
        YamlScalarNode s => ConvertScalar(s),
        _ => throw new FormatException($"Unsupported YAML node at line {node.Start.Line}"),
    };

    private static JsonObject ConvertMapping(YamlMappingNode m)
    {
        var o = new JsonObject();
        foreach ((YamlNode? k, YamlNode? v) in m.Children)
        {
            string key = (k as YamlScalarNode)?.Value ?? throw new FormatException($"Mapping keys must be scalars (line {k.Start.Line})");
            if (o.ContainsKey(key))
            {
                throw new FormatException($"Duplicate key \"{key}\" at line {k.Start.Line}");
            }

            o[key] = Convert(v);
        }
        return o;
    }

    private static JsonNode? ConvertScalar(YamlScalarNode s)
    {
        string v = s.Value ?? "";
        if (s.Style != ScalarStyle.Plain || s.Tag == "tag:yaml.org,2002:str")
        {
            return JsonValue.Create(v);
        }

        switch (v)
        {
            case "" or "~" or "null" or "Null" or "NULL": return null;
            case "true" or "True" or "TRUE": return JsonValue.Create(true);
            case "false" or "False" or "FALSE": return JsonValue.Create(false);
        }
        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
        {
            return JsonValue.Create(l);
        }

        if (v.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(v[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long hex))
        {
            return JsonValue.Create(hex);
        }

        if ((char.IsAsciiDigit(v[0]) || v[0] is '-' or '+' or '.') && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && !double.IsInfinity(d))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(v);
    }
}
