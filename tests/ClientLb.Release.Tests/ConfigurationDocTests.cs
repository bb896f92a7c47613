using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Xml.Linq;
using ClientLb.Agent;
using ClientLb.Dns.Configuration;
using ClientLb.Grpc.Configuration;
using ClientLb.Kubernetes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ClientLb.Release.Tests;

/// <summary>
/// docs/configuration.md documents every public option property: the keys in its tables are compared with the keys
/// reflection finds on ClientLbOptions, KubernetesSourceOptions, DnsSourceOptions, ClientLbGrpcOptions and
/// NftablesAgentOptions (nested option objects and dictionaries included). A missing key fails with the table rows to add.
/// </summary>
public class ConfigurationDocTests
{
    private static readonly (Type Type, string Prefix)[] Roots =
    [
        (typeof(ClientLbOptions), "ClientLb"),
        (typeof(KubernetesSourceOptions), KubernetesSourceOptions.SectionName),
        (typeof(DnsSourceOptions), DnsSourceOptions.SectionName),
        (typeof(ClientLbGrpcOptions), ClientLbGrpcOptions.SectionName),
        (typeof(NftablesAgentOptions), "Agent"),
    ];

    [Fact]
    public void Every_public_option_is_documented_and_every_documented_key_exists()
    {
        string doc = File.ReadAllText(Path.Combine(PackagedAppTests.RepoRoot, "docs", "configuration.md"));
        HashSet<string> documented = [.. doc.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).Select(l => l[3..l.IndexOf('`', 3)])];
        List<OptionKey> actual = [.. Roots.SelectMany(r => Keys(r.Type, r.Prefix, r.Type.Assembly))];
        List<OptionKey> missing = [.. actual.Where(k => !documented.Contains(k.Key))];
        Assert.True(missing.Count == 0, "docs/configuration.md lacks these options; rows to add:\n" + string.Join("\n", missing.Select(Row)));
        HashSet<string> known = [.. actual.Select(k => k.Key)];
        string[] stale = [.. documented.Where(k => !known.Contains(k))];
        Assert.True(stale.Length == 0, "docs/configuration.md documents options that do not exist: " + string.Join(", ", stale));
    }

    [Fact]
    public void The_kubernetes_and_dns_sections_bind_from_environment_style_keys()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            // What ClientLb__Kubernetes__NamespaceWatchThreshold=3 and ClientLb__Dns__Ndots=2 become.
            ["ClientLb:Kubernetes:NamespaceWatchThreshold"] = "3",
            ["ClientLb:Kubernetes:WatchTimeout"] = "00:01:00",
            ["ClientLb:Dns:Ndots"] = "2",
            ["ClientLb:Dns:Servers:0"] = "10.96.0.10",
        }).Build());
        services.AddClientLbKubernetes(k => k.StaleAfter = TimeSpan.FromSeconds(9));
        services.AddClientLbDns();
        services.AddClientLbKubernetes();
        using ServiceProvider provider = services.BuildServiceProvider();
        KubernetesSourceOptions kubernetes = provider.GetRequiredService<IOptions<KubernetesSourceOptions>>().Value;
        Assert.Equal(3, kubernetes.NamespaceWatchThreshold);
        Assert.Equal(TimeSpan.FromMinutes(1), kubernetes.WatchTimeout);
        Assert.Equal(TimeSpan.FromSeconds(9), kubernetes.StaleAfter);
        DnsSourceOptions dns = provider.GetRequiredService<IOptions<DnsSourceOptions>>().Value;
        Assert.Equal(2, dns.Ndots);
        Assert.Equal(["10.96.0.10"], dns.Servers);
    }

    private sealed record OptionKey(string Key, Type Type, object? Default, string? Summary);

    /// <summary>The configuration keys of <paramref name="type"/>: nested option objects recurse, dictionaries take a {name} segment.</summary>
    private static IEnumerable<OptionKey> Keys(Type type, string prefix, Assembly docs)
    {
        object? defaults = type.GetConstructor(Type.EmptyTypes) is not null ? Activator.CreateInstance(type) : null;
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetMethod is not null))
        {
            string key = prefix + ":" + property.Name;
            Type propertyType = property.PropertyType;
            Type? dictionaryValue = propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(IDictionary<,>) ? propertyType.GetGenericArguments()[1] : null;
            if (property.DeclaringType == typeof(ServiceOptions) && property.Name == nameof(ServiceOptions.NamedEndpoints))
            {
                // Microsoft.Extensions.ServiceDiscovery's shape: the top-level Services section.
                yield return new OptionKey("Services:{name}:{endpointName}", propertyType, null, Summary(property));
            }
            else if (dictionaryValue is not null && IsOptionObject(dictionaryValue))
            {
                foreach (OptionKey nested in Keys(dictionaryValue, key + ":{name}", docs))
                {
                    yield return nested;
                }
            }
            else if (IsOptionObject(propertyType))
            {
                foreach (OptionKey nested in Keys(propertyType, key, docs))
                {
                    yield return nested;
                }
            }
            else
            {
                yield return new OptionKey(key, propertyType, defaults is null ? null : property.GetValue(defaults), Summary(property));
            }
        }
    }

    private static bool IsOptionObject(Type type) =>
        type.IsClass && type != typeof(string) && type.Namespace?.StartsWith("ClientLb", StringComparison.Ordinal) == true && type.Name.EndsWith("Options", StringComparison.Ordinal);

    private static string? Summary(PropertyInfo property)
    {
        string xml = Path.ChangeExtension(property.DeclaringType!.Assembly.Location, ".xml");
        if (!File.Exists(xml))
        {
            return null;
        }
        XElement? member = XDocument.Load(xml).Descendants("member").FirstOrDefault(m => (string?)m.Attribute("name") == $"P:{property.DeclaringType.FullName}.{property.Name}");
        return member?.Element("summary") is XElement summary ? string.Join(" ", summary.DescendantNodes().OfType<XText>().Select(t => t.Value.Trim()).Where(t => t.Length > 0)) : null;
    }

    private static string Row(OptionKey k)
    {
        string env = k.Key.StartsWith("Agent:", StringComparison.Ordinal) ? "-" : "`" + k.Key.Replace(":", "__", StringComparison.Ordinal) + "`";
        return $"| `{k.Key}` | {TypeName(k.Type)} | {Value(k.Default)} | {env} | {k.Summary} |";
    }

    private static string TypeName(Type t) => Nullable.GetUnderlyingType(t) is Type inner ? TypeName(inner) + "?"
        : t.IsGenericType ? t.Name[..t.Name.IndexOf('`')] + "<" + string.Join(", ", t.GetGenericArguments().Select(TypeName)) + ">" : t.Name;

    private static string Value(object? value) => value switch
    {
        null => "(none)",
        string s => s.Length == 0 ? "\"\"" : $"`{s}`",
        TimeSpan ts => $"`{ts.ToString("c", CultureInfo.InvariantCulture)}`",
        bool b => b ? "true" : "false",
        IEnumerable e => "[" + string.Join(", ", e.Cast<object>()) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
