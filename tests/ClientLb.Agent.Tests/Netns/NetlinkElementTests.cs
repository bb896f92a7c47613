using System.Net;
using ClientLb.Agent.Interop;
using ClientLb.Agent.Model;
using ClientLb.Endpoints;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>
/// Element transactions written over nfnetlink directly must leave the kernel exactly as libnftables leaves it for the same
/// text: every kind of set and map of the layout (indexed, interval slot ranges, affinity by mark, counts, groups, gen,
/// hairpin, noep, IPv6), added, changed and deleted. Each side runs in a namespace of its own and the rulesets are compared
/// as nft lists them.
/// </summary>
public sealed class NetlinkElementTests : IDisposable
{
    private readonly string _netlink = "clbnl-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _text = "clbnt-" + Guid.NewGuid().ToString("N")[..8];

    public NetlinkElementTests()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("The netlink element tests need root (ip netns, nftables). Run the tests as root.");
        }
        Shell.Must("ip", "netns", "add", _netlink);
        Shell.Must("ip", "netns", "add", _text);
    }

    public void Dispose()
    {
        Shell.Run("ip", "netns", "del", _netlink);
        Shell.Run("ip", "netns", "del", _text);
    }

    private static ServiceState Weighted(string name, string vip) =>
        new("default", name, [vip], [new ServicePortState("http", ServiceProtocol.Tcp, 80,
            [new Endpoint(IPAddress.Parse("10.1.7.1"), 8080, weight: 3), new Endpoint(IPAddress.Parse("10.1.7.2"), 8080, weight: 1)])]);

    private static List<ServiceState> Initial() =>
    [
        Services.Tcp("indexed", "10.96.1.1", 80, 8080, "10.1.1.1", "10.1.1.2", "10.1.1.3"),
        Services.Udp("dns", "10.96.1.2", 53, 5353, "10.1.2.1", "10.1.2.2"),
        Services.Tcp("many", "10.96.1.3", 443, 8443, [.. Enumerable.Range(1, 70).Select(i => $"10.1.3.{i}")]),
        Weighted("weighted", "10.96.1.4"),
        Services.WithAffinity(Services.Tcp("sticky", "10.96.1.5", 80, 8080, "10.1.5.1", "10.1.5.2"), 30),
        Services.Tcp("empty", "10.96.1.6", 80, 8080),
        new ServiceState("default", "dual", ["10.96.1.7", "fd00:96::7"], [new ServicePortState("http", ServiceProtocol.Tcp, 80,
            [Services.Ep("10.1.7.7", 8080), Services.Ep("fd00:1::7", 8080), Services.Ep("fd00:1::8", 8080)])]),
        Services.WithAffinity(new ServiceState("default", "dual-sticky", ["fd00:96::8"], [new ServicePortState("http", ServiceProtocol.Tcp, 80,
            [Services.Ep("fd00:1::9", 8080), Services.Ep("fd00:1::a", 8080)])]), 30),
    ];

    [Theory]
    [InlineData(AgentMode.Sidecar)]
    [InlineData(AgentMode.Node)]
    public async Task Elements_written_over_netlink_match_what_libnftables_writes(AgentMode mode)
    {
        using var netlinkRunner = new RecordingNetlinkRunner(new LibNftablesRunner(_netlink, elementsOverNetlink: true));
        using var netlink = new NftablesAgent(Options(mode, _netlink), netlinkRunner, null);
        using var text = new NftablesAgent(Options(mode, _text), new LibNftablesRunner(_text, elementsOverNetlink: false), null);

        // The skeleton and the aff-30 set first (not an element-only transaction), then every kind of element in one.
        ServiceState seed = Services.WithAffinity(Services.Tcp("seed", "10.96.2.1", 80, 8080, "10.1.9.1"), 30);
        await Both(a => a.SyncAsync([seed]));
        await Both(a => a.ApplyAsync(Initial(), []));
        Assert.Equal(Ruleset(_text), Ruleset(_netlink));

        // Changes: an endpoint swapped, a weight changed, an affinity timeout changed, one service gone, an IPv6 endpoint gone.
        List<ServiceState> changed =
        [
            Services.Tcp("indexed", "10.96.1.1", 80, 8080, "10.1.1.1", "10.1.1.9"),
            Services.WithAffinity(Services.Tcp("sticky", "10.96.1.5", 80, 8080, "10.1.5.1", "10.1.5.3"), 30),
            new ServiceState("default", "dual", ["10.96.1.7", "fd00:96::7"], [new ServicePortState("http", ServiceProtocol.Tcp, 80,
                [Services.Ep("10.1.7.7", 8080), Services.Ep("fd00:1::7", 8080)])]),
            Services.Tcp("many", "10.96.1.3", 443, 8443, [.. Enumerable.Range(2, 69).Select(i => $"10.1.3.{i}")]),
        ];
        await Both(a => a.ApplyAsync(changed, ["default/weighted", "default/empty"]));
        Assert.Equal(Ruleset(_text), Ruleset(_netlink));
        Assert.Equal(2, netlinkRunner.ElementOnly);

        async Task Both(Func<NftablesAgent, Task<SyncResult>> step)
        {
            SyncResult a = await step(netlink);
            SyncResult b = await step(text);
            Assert.Empty(a.Rejected);
            Assert.Equal(b.ElementsAdded, a.ElementsAdded);
            Assert.Equal(b.ElementsDeleted, a.ElementsDeleted);
        }
    }

    [Fact]
    public async Task A_refused_element_transaction_applies_nothing_and_names_the_command()
    {
        using var runner = new LibNftablesRunner(_netlink, elementsOverNetlink: true);
        using var agent = new NftablesAgent(Options(AgentMode.Sidecar, _netlink), runner, null);
        await agent.SyncAsync(Initial());
        string before = Ruleset(_netlink);

        // The first command is fine, the second deletes an element that is not there: the kernel refuses the whole batch.
        NftablesException e = await Assert.ThrowsAsync<NftablesException>(() => runner.RunAsync(
            "add element ip clientlb noep { 10.96.9.9 . tcp . 80 }\ndelete element ip clientlb noep { 10.96.9.8 . tcp . 80 }\n"));
        Assert.Contains("delete element ip clientlb noep", e.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was applied", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Ruleset(_netlink));

        // The socket stays usable: the next batch is judged on its own answers.
        await runner.RunAsync("add element ip clientlb noep { 10.96.9.9 . tcp . 80 }\n");
        Assert.Contains("10.96.9.9 . tcp . 80", Shell.Must("ip", "netns", "exec", _netlink, "nft", "list", "set", "ip", "clientlb", "noep"), StringComparison.Ordinal);
    }

    private static NftablesAgentOptions Options(AgentMode mode, string ns) =>
        new() { Mode = mode, NetworkNamespace = ns, ConntrackCleanup = false };

    private static string Ruleset(string ns) => MarkedRestartTests.Ruleset(ns);

    /// <summary>Counts the transactions that consist of element commands only (those the runner sends over netlink).</summary>
    private sealed class RecordingNetlinkRunner(INftablesRunner inner) : INftablesRunner
    {
        public int ElementOnly { get; private set; }

        public Task RunAsync(string commands, CancellationToken cancellationToken = default)
        {
            if (commands.Split('\n', StringSplitOptions.RemoveEmptyEntries).All(l => l.StartsWith("add element ", StringComparison.Ordinal) || l.StartsWith("delete element ", StringComparison.Ordinal)))
            {
                ElementOnly++;
            }
            return inner.RunAsync(commands, cancellationToken);
        }

        public Task<string?> ListTableJsonAsync(string family, CancellationToken cancellationToken = default) => inner.ListTableJsonAsync(family, cancellationToken);

        public Task<string?> ListSetJsonAsync(string family, string? set, bool map = false, CancellationToken cancellationToken = default) => inner.ListSetJsonAsync(family, set, map, cancellationToken);

        public Task<string?> GetElementsAsync(string family, string set, IReadOnlyList<string> keys, CancellationToken cancellationToken = default) => inner.GetElementsAsync(family, set, keys, cancellationToken);

        public Task EnableRouteLocalnetAsync(CancellationToken cancellationToken = default) => inner.EnableRouteLocalnetAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
