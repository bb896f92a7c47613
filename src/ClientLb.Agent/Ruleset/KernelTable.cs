using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.Ruleset;

/// <summary>A set or map found in the kernel: its declared shape and its elements in the agent's canonical text.</summary>
internal sealed record KernelSet(string Name, string Signature, List<string> Elements);

/// <summary>
/// One family's <c>clientlb</c> table as the kernel holds it, read once at start (<c>list table</c>, JSON) so a restarted
/// agent diffs against what is programmed instead of rebuilding it: traffic keeps flowing during the restart.
/// </summary>
internal sealed class KernelTable
{
    public Dictionary<string, KernelSet> Sets { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Chains { get; } = new(StringComparer.Ordinal);

    public static KernelTable Parse(string json)
    {
        var table = new KernelTable();
        using JsonDocument document = JsonDocument.Parse(json);
        foreach (JsonElement item in document.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("chain", out JsonElement chain))
            {
                table.Chains.Add(chain.GetProperty("name").GetString()!);
            }
            else if (item.TryGetProperty("set", out JsonElement set) || item.TryGetProperty("map", out set))
            {
                string name = set.GetProperty("name").GetString()!;
                var elements = new List<string>();
                if (set.TryGetProperty("elem", out JsonElement elems))
                {
                    foreach (JsonElement elem in elems.EnumerateArray())
                    {
                        elements.Add(elem.ValueKind == JsonValueKind.Array
                            ? Value(elem[0]) + " : " + Value(elem[1])
                            : Value(elem));
                    }
                }
                table.Sets[name] = new KernelSet(name, Signature(set), elements);
            }
        }
        return table;
    }

    private static string Signature(JsonElement set)
    {
        JsonElement type = set.GetProperty("type");
        string key = type.ValueKind == JsonValueKind.Array ? string.Join(",", type.EnumerateArray().Select(t => t.GetString())) : type.GetString()!;
        string data = set.TryGetProperty("map", out JsonElement map) ? map.ValueKind == JsonValueKind.String ? map.GetString()! : map.ToString() : "";
        string flags = set.TryGetProperty("flags", out JsonElement f)
            ? f.ValueKind == JsonValueKind.Array ? string.Join(",", f.EnumerateArray().Select(x => x.GetString())) : f.GetString()!
            : "";
        return key + "|" + data + "|" + flags;
    }

    /// <summary>Canonical text of a key or value: parts joined with <c> . </c>, addresses re-rendered, ranges as <c>low-high</c>.</summary>
    private static string Value(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                string text = value.GetString()!;
                return IPAddress.TryParse(text, out IPAddress? address) && text.Contains(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? '.' : ':')
                    ? address.ToString()
                    : text;
            case JsonValueKind.Number:
                return value.GetInt64().ToString(CultureInfo.InvariantCulture);
            case JsonValueKind.Object:
                if (value.TryGetProperty("concat", out JsonElement concat))
                {
                    var parts = new StringBuilder();
                    foreach (JsonElement part in concat.EnumerateArray())
                    {
                        if (parts.Length > 0)
                        {
                            parts.Append(" . ");
                        }
                        parts.Append(Value(part));
                    }
                    return parts.ToString();
                }
                if (value.TryGetProperty("elem", out JsonElement elem))
                {
                    return Value(elem.GetProperty("val"));
                }
                if (value.TryGetProperty("range", out JsonElement range))
                {
                    return ServicePlan.Range(((int)range[0].GetInt64(), (int)range[1].GetInt64()));
                }
                if (value.TryGetProperty("prefix", out JsonElement prefix) && prefix.GetProperty("addr").ValueKind == JsonValueKind.Number)
                {
                    long low = prefix.GetProperty("addr").GetInt64();
                    int length = prefix.GetProperty("len").GetInt32();
                    long high = low + (1L << (32 - length)) - 1;
                    return ServicePlan.Range(((int)low, (int)high));
                }
                return value.ToString();
            default:
                return value.ToString();
        }
    }
}
