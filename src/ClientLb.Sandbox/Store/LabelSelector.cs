using System.Text.Json;

namespace ClientLb.Sandbox.Store;

/// <summary>
/// A label selector: the query syntax (<c>a=b,c!=d,e in (x,y),f notin (z),g,!h</c>) and the
/// structured form (<c>matchLabels</c> / <c>matchExpressions</c>). All requirements must hold.
/// </summary>
internal sealed class LabelSelector
{
    private enum Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist }

    private sealed record Requirement(string Key, Op Op, string[] Values);

    private readonly List<Requirement> _requirements = [];

    public static readonly LabelSelector Everything = new();

    public bool IsEmpty => _requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (Requirement r in _requirements)
        {
            bool has = labels.TryGetValue(r.Key, out string? v);
            bool ok = r.Op switch
            {
                Op.Equals => has && v == r.Values[0],
                Op.NotEquals => !has || v != r.Values[0],
                Op.In => has && r.Values.Contains(v),
                Op.NotIn => !has || !r.Values.Contains(v),
                Op.Exists => has,
                Op.DoesNotExist => !has,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Parses the labelSelector query parameter; errors name the offending part.</summary>
    public static LabelSelector Parse(string? text)
    {
        var sel = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text))
        {
            return sel;
        }

        foreach (string part in SplitTopLevel(text))
        {
            string p = part.Trim();
            if (p.Length == 0)
            {
                throw ApiException.BadRequest($"unable to parse requirement: empty requirement in labelSelector \"{text}\"");
            }

            sel._requirements.Add(ParseRequirement(p, text));
        }
        return sel;
    }

    private static Requirement ParseRequirement(string p, string whole)
    {
        if (p.StartsWith('!'))
        {
            return new(CheckKey(p[1..].Trim(), whole), Op.DoesNotExist, []);
        }

        string[] words = p.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length >= 2 && (words[1] == "in" || words[1] == "notin") || p.Contains(" in (") || p.Contains(" notin ("))
        {
            Op op = p.Contains(" notin ") ? Op.NotIn : Op.In;
            string kw = op == Op.In ? " in " : " notin ";
            int idx = p.IndexOf(kw, StringComparison.Ordinal);
            string key = CheckKey(p[..idx].Trim(), whole);
            string rest = p[(idx + kw.Length)..].Trim();
            if (!rest.StartsWith('(') || !rest.EndsWith(')'))
            {
                throw ApiException.BadRequest($"unable to parse requirement \"{p}\" in labelSelector \"{whole}\": expected a parenthesised value list");
            }

            string[] values = rest[1..^1].Split(',').Select(v => CheckValue(v.Trim(), whole)).ToArray();
            return new(key, op, values);
        }
        foreach ((string? token, Op op) in new[] { ("!=", Op.NotEquals), ("==", Op.Equals), ("=", Op.Equals) })
        {
            int idx = p.IndexOf(token, StringComparison.Ordinal);
            if (idx >= 0)
            {
                return new(CheckKey(p[..idx].Trim(), whole), op, [CheckValue(p[(idx + token.Length)..].Trim(), whole)]);
            }
        }
        return new(CheckKey(p, whole), Op.Exists, []);
    }

    private static string CheckKey(string key, string whole)
    {
        string? err = Validation.LabelKeyError(key);
        if (err is not null)
        {
            throw ApiException.BadRequest($"unable to parse requirement in labelSelector \"{whole}\": invalid label key \"{key}\": {err}");
        }

        return key;
    }

    private static string CheckValue(string value, string whole)
    {
        string? err = Validation.LabelValueError(value);
        if (err is not null)
        {
            throw ApiException.BadRequest($"unable to parse requirement in labelSelector \"{whole}\": invalid label value \"{value}\": {err}");
        }

        return value;
    }

    // Commas inside "in (a,b)" do not separate requirements.
    private static IEnumerable<string> SplitTopLevel(string text)
    {
        int depth = 0;
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '(')
            {
                depth++;
            }
            else if (text[i] == ')')
            {
                depth--;
            }
            else if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }

    /// <summary>Builds a selector from a metav1.LabelSelector object (deployment spec.selector).</summary>
    public static LabelSelector FromObject(JsonElement selector, string field)
    {
        var sel = new LabelSelector();
        foreach ((string? k, string? v) in selector.Map("matchLabels"))
        {
            sel._requirements.Add(new(k, Op.Equals, [v]));
        }

        int i = 0;
        foreach (JsonElement e in selector.Items("matchExpressions"))
        {
            string key = e.Str("key") ?? throw ApiException.BadRequest($"{field}.matchExpressions[{i}].key: Required value");
            string[] values = e.Items("values").Select(v => v.GetString() ?? "").ToArray();
            Op op = e.Str("operator") switch
            {
                "In" => Op.In,
                "NotIn" => Op.NotIn,
                "Exists" => Op.Exists,
                "DoesNotExist" => Op.DoesNotExist,
                var other => throw ApiException.BadRequest($"{field}.matchExpressions[{i}].operator: Unsupported value: \"{other}\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""),
            };
            sel._requirements.Add(new(key, op, values));
            i++;
        }
        return sel;
    }

    /// <summary>Builds an equality selector from a plain map (service spec.selector).</summary>
    public static LabelSelector FromMap(IReadOnlyDictionary<string, string> map)
    {
        var sel = new LabelSelector();
        foreach ((string? k, string? v) in map)
        {
            sel._requirements.Add(new(k, Op.Equals, [v]));
        }

        return sel;
    }

    /// <summary>The query-string form, as the scale subresource reports in status.selector.</summary>
    public override string ToString() => string.Join(",", _requirements.Select(r => r.Op switch
    {
        Op.Equals => $"{r.Key}={r.Values[0]}",
        Op.NotEquals => $"{r.Key}!={r.Values[0]}",
        Op.In => $"{r.Key} in ({string.Join(",", r.Values)})",
        Op.NotIn => $"{r.Key} notin ({string.Join(",", r.Values)})",
        Op.Exists => r.Key,
        _ => "!" + r.Key,
    }));
}
