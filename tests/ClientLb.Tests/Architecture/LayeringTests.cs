using System.Text;
using Xunit.Abstractions;

namespace ClientLb.Tests.Architecture;

/// <summary>
/// Folders say what is in them and depend one way: no package's namespaces (one per folder) use each other in a cycle,
/// and the core's folders use only the ones left of them in <see cref="CoreOrder"/>. Read from the compiled assemblies
/// (<see cref="NamespaceGraph"/>), which this project copies next to itself.
/// </summary>
public sealed class LayeringTests(ITestOutputHelper output)
{
    /// <summary>
    /// The core's folders, each using only folders to its left: a name, the endpoints it resolves to, which of them are
    /// eligible, the source that publishes them, the balancer that picks among them, the registry that shares balancers,
    /// one request's attempts, and the HttpClient handler. A folder's subfolders (Balancing/Policies) share its place.
    /// </summary>
    private static readonly string[] CoreOrder = ["Names", "Endpoints", "Eligibility", "Sources", "Balancing", "Registry", "Attempts", "Http"];

    /// <summary>Used by any folder and using none of <see cref="CoreOrder"/>: the options (the root namespace), diagnostics, configuration.</summary>
    private static readonly string[] Foundations = ["ClientLb", "ClientLb.Diagnostics", "ClientLb.Configuration"];

    /// <summary>What a foundation may read anyway: configuration validates service names and policy names.</summary>
    private static readonly Dictionary<string, string[]> FoundationExceptions = new(StringComparer.Ordinal)
    {
        ["ClientLb.Configuration"] = ["ClientLb.Names", "ClientLb.Balancing.Policies"],
    };

    /// <summary>The DI extensions (AddClientLb) wire every folder together; no folder uses them.</summary>
    private const string CompositionRoot = "Microsoft.Extensions.DependencyInjection";

    public static TheoryData<string> Packages() => [.. SourcePackages.Names];

    [Theory]
    [MemberData(nameof(Packages))]
    public void The_folders_of_a_package_depend_on_each_other_in_no_cycle(string package)
    {
        NamespaceGraph graph = NamespaceGraph.Read(SourcePackages.AssemblyPath(package), ns => FolderOf(package, ns));
        foreach ((string from, string to, SortedSet<string> evidence) in graph.Edges)
        {
            output.WriteLine($"{from} -> {to} ({evidence.Count}: {string.Join("; ", evidence.Take(3))})");
        }
        Assert.True(graph.Cycles().Count == 0, $"Folders of {package} that depend on each other in a cycle:\n{graph.DescribeCycles()}");
    }

    /// <summary>
    /// The top-level folder of a package that a namespace belongs to: a folder's subfolders (Balancing/Policies,
    /// Balancing/Health) are parts of it and may use it and each other; folders depend on each other in no cycle.
    /// </summary>
    private static string FolderOf(string package, string ns)
    {
        if (!ns.StartsWith(package + ".", StringComparison.Ordinal))
        {
            return ns;
        }
        int end = ns.IndexOf('.', package.Length + 1);
        return end < 0 ? ns : ns[..end];
    }

    [Fact]
    public void The_core_folders_use_only_the_folders_left_of_them_in_the_declared_order()
    {
        NamespaceGraph graph = NamespaceGraph.Read(SourcePackages.AssemblyPath("ClientLb"));
        var problems = new StringBuilder();
        foreach (string ns in graph.Namespaces.Where(ns => Place(ns) is null))
        {
            problems.AppendLine($"{ns} is no folder of the declared order ({string.Join(" -> ", CoreOrder)}; foundations {string.Join(", ", Foundations)}): " +
                "move its types into one, or declare it in LayeringTests");
        }
        foreach ((string from, string to, SortedSet<string> _) in graph.Edges)
        {
            if (Place(from) is null || Place(to) is null || Allowed(from, to))
            {
                continue;
            }
            graph.AppendEdge(problems, from, to, "", examples: 10);
        }
        Assert.True(problems.Length == 0, $"Core folders that break the order {string.Join(" -> ", CoreOrder)} (type -> type):\n{problems}");
    }

    /// <summary>The place of a core namespace: its index in <see cref="CoreOrder"/>, -1 for a foundation, int.MaxValue for the composition root, null if undeclared.</summary>
    private static int? Place(string ns)
    {
        if (ns == CompositionRoot)
        {
            return int.MaxValue;
        }
        if (Foundations.Contains(ns))
        {
            return -1;
        }
        string[] parts = ns.Split('.');
        int layer = parts.Length > 1 && parts[0] == "ClientLb" ? Array.IndexOf(CoreOrder, parts[1]) : -1;
        return layer >= 0 ? layer : null;
    }

    private static bool Allowed(string from, string to)
    {
        int source = Place(from)!.Value, target = Place(to)!.Value;
        if (target == int.MaxValue)
        {
            return false;
        }
        if (target == -1 || source == int.MaxValue)
        {
            return true;
        }
        if (source == -1)
        {
            return FoundationExceptions.TryGetValue(from, out string[]? allowed) && allowed.Any(a => to == a || to.StartsWith(a + ".", StringComparison.Ordinal));
        }
        return target <= source;
    }
}
