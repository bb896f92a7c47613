using ClientLb.Agent.Model;
using ClientLb.Agent.Ruleset;
using ClientLb.Agent.State;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>A restart: the kernel's table (a real nft 1.0.6 JSON listing) is read once and diffed, not rebuilt.</summary>
public sealed class ReconcileTests
{
    private static string Listing => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Unit", "kernel-ip.json"));

    [Fact]
    public void The_listing_parses_into_canonical_elements_ranges_and_prefixes_included()
    {
        KernelTable table = KernelTable.Parse(Listing);
        Assert.Equal(["10.96.2.10 . tcp . 80 . 0-65535 : 10.231.0.11 . 8080"], table.Sets["eps-10"].Elements);
        Assert.Equal(["10.96.3.3 . tcp . 80 . 0-32767 : 10.1.3.3 . 8080", "10.96.3.3 . tcp . 80 . 32768-65535 : 10.1.3.4 . 8080"], table.Sets["eps-aff-3"].Elements.Order());
        Assert.Equal(["10.96.4.4 . udp . 53"], table.Sets["noep"].Elements);
        Assert.Equal("ipv4_addr,inet_proto,inet_service,integer|ipv4_addr . inet_service|interval", table.Sets["eps-10"].Signature);
        Assert.Contains("nat-prerouting", table.Chains);
    }

    [Fact]
    public async Task A_restart_keeps_what_matches_removes_leftovers_and_redeclares_eps_in_one_transaction()
    {
        var runner = new RecordingRunner();
        runner.Listings["ip"] = Listing;
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar }, runner, null);
        SyncResult result = await agent.SyncAsync(
        [
            Services.Tcp("web", "10.96.2.10", 80, 8080, "10.231.0.11"),
            Services.WithAffinity(Services.Tcp("sticky", "10.96.3.3", 80, 8080, "10.1.3.3", "10.1.3.4"), 30),
        ]);
        Assert.Equal(1, result.Transactions);
        string[] lines = runner.Last.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("flush chain ip clientlb nat-output", lines);
        Assert.Contains("delete chain ip clientlb nat-prerouting", lines); // left by node mode; this agent is a sidecar
        Assert.Contains("delete set ip clientlb stale", lines);
        Assert.Contains("delete map ip clientlb eps-10", lines); // 64 shards then, 8 now
        Assert.Contains("delete map ip clientlb eps-2", lines); // a typeof map of the layout: re-declared (Skeleton.Keeps)
        Assert.True(Array.IndexOf(lines, "delete map ip clientlb eps-2") < Array.FindIndex(lines, l => l.StartsWith("add map ip clientlb eps-2 ", StringComparison.Ordinal)));
        Assert.Contains("add element ip clientlb epx { 10.96.2.10 . tcp . 80 . 0 : 10.231.0.11 . 8080 }", lines);
        Assert.Contains("flush set ip clientlb layout", lines); // this layout's marker: the next restart reads only gen
        Assert.Contains(lines, l => l.StartsWith("add element ip clientlb layout { ", StringComparison.Ordinal));
        Assert.Contains("delete element ip clientlb noep { 10.96.4.4 . udp . 53 }", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("add element ip clientlb eps-aff-3", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("add element ip clientlb aff-30", StringComparison.Ordinal));
        Assert.DoesNotContain("delete set ip clientlb aff-30", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("delete table", StringComparison.Ordinal));

        // After that, the kernel is never listed again and an unchanged sync sends nothing.
        SyncResult again = await agent.SyncAsync(
        [
            Services.Tcp("web", "10.96.2.10", 80, 8080, "10.231.0.11"),
            Services.WithAffinity(Services.Tcp("sticky", "10.96.3.3", 80, 8080, "10.1.3.3", "10.1.3.4"), 30),
        ]);
        Assert.Equal(0, again.Transactions);
        Assert.Equal(2, runner.Lists);
    }

    [Fact]
    public async Task A_large_restart_is_never_split_because_the_endpoint_maps_are_redeclared_in_its_first_transaction()
    {
        var runner = new RecordingRunner();
        runner.Listings["ip"] = Listing;
        using var agent = new NftablesAgent(new NftablesAgentOptions { ChunkElements = 100 }, runner, null);
        List<ServiceState> services = [.. Enumerable.Range(0, 200).Select(i => Services.Tcp($"svc{i}", $"10.96.0.{i + 1}", 80, 8080, $"10.1.0.{i + 1}"))];
        SyncResult result = await agent.SyncAsync(services);
        Assert.Equal(1, result.Transactions);
        Assert.Contains("delete map ip clientlb eps-1", runner.Last);
        Assert.Contains("10.96.0.200 . tcp . 80 . 0 : 10.1.0.200 . 8080", runner.Last);

        // Later large syncs may be split again, by whole services.
        SyncResult later = await agent.SyncAsync([.. services.Select(s => Services.Tcp(s.Name, s.ClusterIPs[0], 80, 9090, s.Ports[0].Endpoints[0].Host))]);
        Assert.True(later.Transactions > 1);
    }
}
