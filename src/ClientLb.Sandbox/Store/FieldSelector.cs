namespace ClientLb.Sandbox.Store;

/// <summary>
/// A field selector (<c>metadata.name=x,status.phase!=Running</c>): metadata.name and metadata.namespace
/// for every resource, plus the per-resource fields the real API server also allows.
/// </summary>
internal sealed class FieldSelector
{
    private readonly List<(string[] Path, string Value, bool Equal)> _terms = [];

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        var sel = new FieldSelector();
        if (string.IsNullOrWhiteSpace(text))
        {
            return sel;
        }

        foreach (string raw in text.Split(','))
        {
            string term = raw.Trim();
            string field, value;
            bool equal;
            int ne = term.IndexOf("!=", StringComparison.Ordinal);
            if (ne >= 0) { field = term[..ne]; value = term[(ne + 2)..]; equal = false; }
            else
            {
                int eq = term.IndexOf("==", StringComparison.Ordinal);
                int len = 2;
                if (eq < 0) { eq = term.IndexOf('='); len = 1; }
                if (eq < 0)
                {
                    throw ApiException.BadRequest($"invalid field selector \"{text}\": term \"{term}\" has no operator (=, == or !=)");
                }

                field = term[..eq]; value = term[(eq + len)..]; equal = true;
            }
            field = field.Trim();
            if (field != "metadata.name" && field != "metadata.namespace" && !type.SelectableFields.Contains(field))
            {
                throw ApiException.BadRequest($"field label not supported: {field} (resource {type}; supported: metadata.name, metadata.namespace{string.Concat(type.SelectableFields.Select(f => ", " + f))})");
            }

            sel._terms.Add((field.Split('.'), value.Trim(), equal));
        }
        return sel;
    }

    public bool IsEmpty => _terms.Count == 0;

    /// <summary>The name this selector pins (metadata.name=x), used to narrow a list cheaply.</summary>
    public string? PinnedName => _terms.FirstOrDefault(t => t.Equal && t.Path is ["metadata", "name"]).Value;

    public bool Matches(StoredObject o)
    {
        foreach ((string[]? path, string? value, bool equal) in _terms)
        {
            string actual = path is ["metadata", "namespace"] ? o.Namespace : o.Root.Str(path) ?? "";
            if ((actual == value) != equal)
            {
                return false;
            }
        }
        return true;
    }
}
