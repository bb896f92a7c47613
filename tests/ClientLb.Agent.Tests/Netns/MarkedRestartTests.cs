using ClientLb.Agent.Interop;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>
/// A restart against the real kernel (a namespace of the test's own): with this build's layout marker in the tables it
/// reads the <c>gen</c> map and the small sets, never the whole table nor an endpoint map of a service that did not change,
/// and leaves the kernel exactly as a cold sync of the same services would.
/// </summary>
public sealed class MarkedRestartTests : IDisposable
{
    private readonly string _ns = "clbmr-" + Guid.NewGuid().ToString("N")[..8];

    public MarkedRestartTests()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("The marked-restart tests need root (ip netns, nftables). Run the tests as root.");
        }
        Shell.Must("ip", "netns", "add", _ns);
    }

    public void Dispose() => Shell.Run("ip", "netns", "del", _ns);

    private static List<ServiceState> Initial() =>
    [
        .. Enumerable.Range(1, 40).Select(i => Services.Tcp($"svc{i}", $"10.96.1.{i}", 80, 8080, $"10.1.1.{i}", $"10.1.2.{i}", "10.9.9.9")),
        Services.WithAffinity(Services.Tcp("sticky", "10.96.3.3", 80, 8080, "10.1.3.3", "10.1.3.4"), 30),
        Services.Udp("dns", "10.96.4.4", 53, 5353),
    ];

    [Fact]
    public async Task An_unchanged_restart_reads_no_endpoint_map_and_sends_nothing()
    {
        using (var first = new NftablesAgent(Options()))
        {
            await first.SyncAsync(Initial());
        }
        using var runner = new CountingRunner(new LibNftablesRunner(_ns));
        using var again = new NftablesAgent(Options(), runner, null);
        SyncResult result = await again.SyncAsync(Initial());

        Assert.Equal(0, result.Transactions);
        Assert.Equal(0, runner.TableLists);
        Assert.DoesNotContain(runner.SetLists, s => s.Contains(" ep", StringComparison.Ordinal) || s.EndsWith(" hairpin", StringComparison.Ordinal));
        Assert.Empty(runner.Gets);
        Assert.Equal(Initial().Count, again.ServiceCount);

        // The state it took on is exact: a later change sends only that service's difference.
        List<ServiceState> changed = Initial();
        changed[0] = Services.Tcp("svc1", "10.96.1.1", 80, 8080, "10.1.1.1", "10.9.9.9");
        SyncResult change = await again.ApplyAsync([changed[0]], []);
        // Indexes 0..2 (10.1.1.1, 10.1.2.1, 10.9.9.9) become 0..1 (10.1.1.1, 10.9.9.9): index 1 changes, index 2 goes,
        // cnt 3 becomes cnt 2, and the gen hash changes (sidecar mode: no hairpin entries).
        Assert.Equal(4, change.ElementsDeleted);
        Assert.Equal(3, change.ElementsAdded);
        Assert.Equal(KernelOf(changed), await KernelAsync());
    }

    [Fact]
    public async Task A_restart_after_changes_while_down_reads_only_their_shards_and_matches_a_cold_sync()
    {
        using (var first = new NftablesAgent(Options()))
        {
            await first.SyncAsync(Initial());
        }
        // While the agent was down: svc2 lost an endpoint, svc3 went, sticky changed its timeout, svc50 is new.
        List<ServiceState> now = Initial();
        now[1] = Services.Tcp("svc2", "10.96.1.2", 80, 8080, "10.1.1.2", "10.9.9.9");
        now.RemoveAt(2);
        now[^2] = Services.WithAffinity(Services.Tcp("sticky", "10.96.3.3", 80, 8080, "10.1.3.3", "10.1.3.4"), 60);
        now.Add(Services.Tcp("svc50", "10.96.1.50", 80, 8080, "10.1.1.50"));

        using var runner = new CountingRunner(new LibNftablesRunner(_ns));
        using var again = new NftablesAgent(Options(), runner, null);
        SyncResult result = await again.SyncAsync(now);

        Assert.Equal(1, result.Transactions);
        Assert.Equal(0, runner.TableLists);
        // svc2 and svc3 are indexed: one get of their 3 keys each; sticky (affinity) is in shard 3 of the interval maps.
        Assert.Equal(["ip epx 3", "ip epx 3"], runner.Gets);
        Assert.Equal(["ip eps-3", "ip eps-aff-3"], runner.SetLists.Where(s => s.Contains(" ep", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(KernelOf(now), await KernelAsync());
    }

    [Fact]
    public async Task A_table_of_another_layout_is_listed_whole_once_and_rebuilt()
    {
        Shell.Must("ip", "netns", "exec", _ns, "nft", "add table ip clientlb; add set ip clientlb layout { type mark; }; add element ip clientlb layout { 1 }");
        using var runner = new CountingRunner(new LibNftablesRunner(_ns));
        using var agent = new NftablesAgent(Options(), runner, null);
        await agent.SyncAsync(Initial());
        Assert.Equal(2, runner.TableLists);
        Assert.Equal(KernelOf(Initial()), await KernelAsync());
    }

    private NftablesAgentOptions Options() => new() { Mode = AgentMode.Sidecar, NetworkNamespace = _ns, ConntrackCleanup = false };

    /// <summary>What a cold sync of <paramref name="services"/> programs, in a namespace of its own.</summary>
    private static string KernelOf(List<ServiceState> services)
    {
        string ns = "clbmr-" + Guid.NewGuid().ToString("N")[..8];
        Shell.Must("ip", "netns", "add", ns);
        try
        {
            using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NetworkNamespace = ns, ConntrackCleanup = false });
            agent.SyncAsync(services).GetAwaiter().GetResult();
            return Ruleset(ns);
        }
        finally
        {
            Shell.Run("ip", "netns", "del", ns);
        }
    }

    private Task<string> KernelAsync() => Task.FromResult(Ruleset(_ns));

    /// <summary>The ruleset as text with the lines sorted: element order and handles aside, the same content.</summary>
    internal static string Ruleset(string ns)
    {
        string text = Shell.Must("ip", "netns", "exec", ns, "nft", "list", "ruleset");
        return string.Join('\n', text.Split([',', '\n', '{', '}'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
    }

    /// <summary>Passes everything to a real runner and counts what the agent read.</summary>
    private sealed class CountingRunner(INftablesRunner inner) : INftablesRunner
    {
        public int TableLists { get; private set; }

        public List<string> SetLists { get; } = [];

        public Task RunAsync(string commands, CancellationToken cancellationToken = default) => inner.RunAsync(commands, cancellationToken);

        public Task<string?> ListTableJsonAsync(string family, CancellationToken cancellationToken = default)
        {
            TableLists++;
            return inner.ListTableJsonAsync(family, cancellationToken);
        }

        public Task<string?> ListSetJsonAsync(string family, string? set, bool map = false, CancellationToken cancellationToken = default)
        {
            SetLists.Add(family + " " + set);
            return inner.ListSetJsonAsync(family, set, map, cancellationToken);
        }

        public List<string> Gets { get; } = [];

        public Task<string?> GetElementsAsync(string family, string set, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        {
            Gets.Add($"{family} {set} {keys.Count}");
            return inner.GetElementsAsync(family, set, keys, cancellationToken);
        }

        public Task EnableRouteLocalnetAsync(CancellationToken cancellationToken = default) => inner.EnableRouteLocalnetAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
