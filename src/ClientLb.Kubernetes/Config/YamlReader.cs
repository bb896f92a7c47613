using YamlDotNet.RepresentationModel;

namespace ClientLb.Kubernetes.Config;

/// <summary>Typed reads from a YAML mapping, each error naming the file and the key path.</summary>
internal readonly struct YamlReader(string file, string path, YamlMappingNode? node)
{
    public string File => file;

    public string Path => path;

    public bool Exists => node is not null;

    public string Key(string name) => path.Length == 0 ? name : path + "." + name;

    private YamlNode? Child(string name)
    {
        if (node is null)
        {
            return null;
        }
        return node.Children.TryGetValue(new YamlScalarNode(name), out YamlNode? value) ? value : null;
    }

    public string? String(string name)
    {
        switch (Child(name))
        {
            case null:
                return null;
            case YamlScalarNode { Value: null or "" or "~" } scalar when scalar.Style == YamlDotNet.Core.ScalarStyle.Plain:
                return null;
            case YamlScalarNode scalar:
                return scalar.Value;
            default:
                throw new KubernetesConfigException(file, Key(name), "expected a string value");
        }
    }

    public bool? Bool(string name)
    {
        string? text = String(name);
        return text switch
        {
            null => null,
            "true" or "True" or "TRUE" => true,
            "false" or "False" or "FALSE" => false,
            _ => throw new KubernetesConfigException(file, Key(name), $"'{text}' is not a boolean (true or false)"),
        };
    }

    public YamlReader Map(string name) => Child(name) switch
    {
        null => new YamlReader(file, Key(name), null),
        YamlScalarNode { Value: null or "" or "~" } => new YamlReader(file, Key(name), null),
        YamlMappingNode map => new YamlReader(file, Key(name), map),
        _ => throw new KubernetesConfigException(file, Key(name), "expected a mapping"),
    };

    public bool Has(string name) => Child(name) is not null;

    /// <summary>A list of strings (<c>args</c>); empty when absent.</summary>
    public IReadOnlyList<string> StringList(string name)
    {
        switch (Child(name))
        {
            case null:
            case YamlScalarNode { Value: null or "" or "~" }:
                return [];
            case YamlSequenceNode sequence:
                var items = new List<string>(sequence.Children.Count);
                for (int i = 0; i < sequence.Children.Count; i++)
                {
                    items.Add(sequence.Children[i] is YamlScalarNode { Value: string value }
                        ? value
                        : throw new KubernetesConfigException(file, $"{Key(name)}[{i}]", "expected a string"));
                }
                return items;
            default:
                throw new KubernetesConfigException(file, Key(name), "expected a list of strings");
        }
    }

    /// <summary>The items of a named list (<c>clusters</c>, <c>users</c>, <c>contexts</c>), each with its <c>name</c>.</summary>
    public IEnumerable<(string Name, YamlReader Item)> NamedList(string list)
    {
        switch (Child(list))
        {
            case null:
            case YamlScalarNode { Value: null or "" or "~" }:
                yield break;
            case YamlSequenceNode sequence:
                int index = 0;
                foreach (YamlNode item in sequence.Children)
                {
                    string at = $"{list}[{index}]";
                    if (item is not YamlMappingNode map)
                    {
                        throw new KubernetesConfigException(file, at, "expected a mapping with 'name'");
                    }
                    var reader = new YamlReader(file, at, map);
                    string name = reader.String("name") ?? throw new KubernetesConfigException(file, at + ".name", "is missing");
                    yield return (name, new YamlReader(file, $"{list}[name={name}]", map));
                    index++;
                }
                break;
            default:
                throw new KubernetesConfigException(file, list, "expected a list");
        }
    }
}
