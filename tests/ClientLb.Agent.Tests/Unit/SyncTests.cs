using System.Net;
using ClientLb.Agent.Conntrack;
using ClientLb.Agent.Interop;
using ClientLb.Agent.Model;
using ClientLb.Endpoints;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>Rendering and diffing against a recording runner: no root, no kernel.</summary>
public sealed class SyncTests
{
    private readonly RecordingRunner _runner = new();
    private readonly RecordingCleaner _cleaner = new();

    private NftablesAgent Agent(AgentMode mode = AgentMode.Sidecar, int chunk = 20_000) =>
        new(new NftablesAgentOptions { Mode = mode, ChunkElements = chunk }, _runner, _cleaner);

    private static List<ServiceState> Many(int count) =>
        [.. Enumerable.Range(0, count).Select(i => Services.Tcp($"svc{i}", $"10.96.{i / 250}.{i % 250 + 1}", 80, 8080, $"10.1.{i / 250}.{i % 250 + 1}", $"10.2.{i / 250}.{i % 250 + 1}"))];

    /// <summary>The transaction's lines but the <c>gen</c> hashes, which RestartTests checks.</summary>
    private static string[] Lines(string transaction) =>
        [.. transaction.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains(" clientlb gen { ", StringComparison.Ordinal))];

    [Fact]
    public async Task The_first_sync_is_one_transaction_with_the_skeleton_and_an_unchanged_sync_sends_nothing()
    {
        using NftablesAgent agent = Agent();
        List<ServiceState> services = Many(3);
        SyncResult first = await agent.SyncAsync(services);
        Assert.Equal(1, first.Transactions);
        Assert.Equal(2, _runner.Lists); // ip and ip6 read once
        string text = _runner.Last;
        Assert.Contains("add chain ip clientlb nat-output { type nat hook output priority -100; policy accept; }", text);
        Assert.DoesNotContain("prerouting", text); // sidecar: output hook only
        Assert.Contains("add rule ip clientlb svc-1 meta l4proto { tcp, udp, sctp } dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 65536 map @eps-1", text);
        Assert.Contains("add rule ip clientlb services ip daddr & 0.0.0.7 vmap { 0.0.0.0 : goto svc-0, 0.0.0.1 : goto svc-1,", text);
        Assert.Contains("add rule ip clientlb services ip daddr . meta l4proto . th dport . numgen random mod 1 offset 3 @grp jump idx-3", text);
        Assert.Contains("add rule ip clientlb idx-6 ip daddr . meta l4proto . th dport . numgen random mod 1 offset 50 @cnt meta l4proto { tcp, udp, sctp } dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 50 map @epx", text);
        Assert.Contains("add element ip clientlb epx { 10.96.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080, 10.96.0.1 . tcp . 80 . 1 : 10.2.0.1 . 8080, 10.96.0.2 . tcp . 80 . 0 : 10.1.0.2 . 8080", text);
        Assert.Contains("add element ip clientlb cnt { 10.96.0.1 . tcp . 80 . 2, 10.96.0.2 . tcp . 80 . 2", text);
        Assert.Contains("add element ip clientlb grp { 10.96.0.1 . tcp . 80 . 0, 10.96.0.2 . tcp . 80 . 0", text);
        Assert.Contains("add rule ip clientlb filter-output meta l4proto tcp ip daddr . meta l4proto . th dport @noep reject with tcp reset", text);
        Assert.DoesNotContain("add element ip clientlb hairpin", text); // sidecar mode: no hairpin (Layout.Hairpin)
        Assert.Matches(@"add element ip clientlb gen \{ 10\.96\.0\.1 \. tcp \. 80 : \d+ \. \d+", text);
        Assert.Equal(3 * (2 + 3), first.ElementsAdded); // per service: 2 indexed endpoints + cnt, grp, gen

        SyncResult again = await agent.SyncAsync([.. Many(3)]);
        Assert.Equal(0, again.Transactions);
        Assert.Equal(0, again.ServicesChanged);
        Assert.Single(_runner.Transactions);
        Assert.Equal(2, _runner.Lists); // never read again
    }

    [Fact]
    public async Task Node_mode_hooks_prerouting_and_output_and_rejects_in_forward()
    {
        using NftablesAgent agent = Agent(AgentMode.Node);
        await agent.SyncAsync(Many(1));
        Assert.Contains("add chain ip clientlb nat-prerouting { type nat hook prerouting priority -100; policy accept; }", _runner.Last);
        Assert.Contains("add chain ip6 clientlb filter-forward { type filter hook forward priority -110; policy accept; }", _runner.Last);
        Assert.Contains("add rule ip clientlb nat-prerouting jump services", _runner.Last);
    }

    [Fact]
    public async Task One_endpoint_change_among_a_thousand_services_sends_only_that_services_elements()
    {
        using NftablesAgent agent = Agent();
        List<ServiceState> services = Many(1000);
        await agent.SyncAsync(services);
        services[500] = Services.Tcp("svc500", "10.96.2.1", 80, 8080, "10.1.2.1", "10.2.2.1", "10.3.0.1");

        SyncResult change = await agent.SyncAsync(services);
        Assert.Equal(1, change.ServicesChanged);
        string[] lines = Lines(_runner.Last);
        Assert.Equal(
        [
            "delete element ip clientlb cnt { 10.96.2.1 . tcp . 80 . 2 }",
            "add element ip clientlb epx { 10.96.2.1 . tcp . 80 . 2 : 10.3.0.1 . 8080 }",
            "add element ip clientlb cnt { 10.96.2.1 . tcp . 80 . 3 }",
        ], lines);
    }

    [Fact]
    public async Task Ports_the_indexed_map_cannot_hold_take_slot_ranges_in_an_interval_shard()
    {
        using NftablesAgent agent = Agent();
        string[] many = [.. Enumerable.Range(1, 65).Select(i => $"10.5.0.{i}")];
        var weighted = new ServicePortState("http", ServiceProtocol.Tcp, 80, [new Endpoint(IPAddress.Parse("10.6.0.1"), 8080, weight: 3), Services.Ep("10.6.0.2", 8080)]);
        await agent.SyncAsync(
        [
            Services.Tcp("large", "10.96.0.9", 80, 8080, many),
            new ServiceState("default", "weighted", ["10.96.0.10"], [weighted]),
            Services.Tcp("small", "10.96.0.11", 80, 8080, many[..64]),
        ]);
        string text = _runner.Last;
        Assert.Contains("10.96.0.9 . tcp . 80 . 0-1007 : 10.5.0.1 . 8080", text); // 65 endpoints: past the 64 count rules
        Assert.Contains("add element ip clientlb eps-2 { 10.96.0.10 . tcp . 80 . 0-49151 : 10.6.0.1 . 8080, 10.96.0.10 . tcp . 80 . 49152-65535 : 10.6.0.2 . 8080 }", text);
        Assert.Contains("10.96.0.11 . tcp . 80 . 63 : 10.5.0.64 . 8080", text);
        Assert.Contains("10.96.0.11 . tcp . 80 . 64", text); // cnt
        Assert.DoesNotContain("10.96.0.9 . tcp . 80 . 0 : ", text); // not indexed
        Assert.DoesNotContain("10.96.0.10 . tcp . 80 . 0 : ", text);
    }

    [Fact]
    public async Task Adding_and_removing_a_service_touches_only_its_elements_and_apply_leaves_others_alone()
    {
        using NftablesAgent agent = Agent();
        await agent.SyncAsync(Many(10));
        SyncResult add = await agent.ApplyAsync([Services.Tcp("new", "10.96.9.9", 443, 8443, "10.9.9.9")], []);
        string[] elements =
        [
            "element ip clientlb epx { 10.96.9.9 . tcp . 443 . 0 : 10.9.9.9 . 8443 }",
            "element ip clientlb cnt { 10.96.9.9 . tcp . 443 . 1 }", "element ip clientlb grp { 10.96.9.9 . tcp . 443 . 0 }",
        ];
        Assert.Equal(elements.Select(e => "add " + e), Lines(_runner.Last));
        Assert.Equal(11, agent.ServiceCount);

        SyncResult remove = await agent.ApplyAsync([], ["default/new"]);
        Assert.Equal(elements.Select(e => "delete " + e), Lines(_runner.Last));
        Assert.Equal(10, agent.ServiceCount);
        Assert.Equal(1, add.Transactions + remove.Transactions - 1);
    }

    [Fact]
    public async Task Apply_before_the_first_full_sync_is_refused_so_a_restart_never_drops_services()
    {
        using NftablesAgent agent = Agent();
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => agent.ApplyAsync([Services.Tcp("a", "10.96.0.1", 80, 8080, "10.1.0.1")], []));
        Assert.Contains("must be SyncAsync", e.Message);
        Assert.Empty(_runner.Transactions);
        await agent.SyncAsync([]);
        await agent.ApplyAsync([Services.Tcp("a", "10.96.0.1", 80, 8080, "10.1.0.1")], []);
        Assert.Equal(1, agent.ServiceCount);
    }

    [Fact]
    public async Task A_shared_hairpin_element_stays_while_another_service_still_uses_the_endpoint()
    {
        using NftablesAgent agent = Agent(AgentMode.Node); // node mode: hairpin entries (Layout.Hairpin)
        await agent.SyncAsync([Services.Tcp("a", "10.96.0.1", 80, 8080, "10.1.0.1"), Services.Tcp("b", "10.96.0.2", 80, 8080, "10.1.0.1")]);
        await agent.SyncAsync([Services.Tcp("b", "10.96.0.2", 80, 8080, "10.1.0.1")]);
        Assert.Equal(
        [
            "delete element ip clientlb epx { 10.96.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080 }",
            "delete element ip clientlb cnt { 10.96.0.1 . tcp . 80 . 1 }",
            "delete element ip clientlb grp { 10.96.0.1 . tcp . 80 . 0 }",
        ], Lines(_runner.Last));
    }

    [Fact]
    public async Task No_endpoints_moves_a_port_to_the_reject_set_and_back()
    {
        using NftablesAgent agent = Agent();
        await agent.SyncAsync([Services.Tcp("a", "10.96.0.1", 80, 8080)]);
        Assert.Contains("add element ip clientlb noep { 10.96.0.1 . tcp . 80 }", _runner.Last);
        await agent.SyncAsync([Services.Tcp("a", "10.96.0.1", 80, 8080, "10.1.0.1")]);
        Assert.Equal(
        [
            "delete element ip clientlb noep { 10.96.0.1 . tcp . 80 }",
            "add element ip clientlb epx { 10.96.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080 }",
            "add element ip clientlb cnt { 10.96.0.1 . tcp . 80 . 1 }",
            "add element ip clientlb grp { 10.96.0.1 . tcp . 80 . 0 }",
        ], Lines(_runner.Last));
    }

    [Fact]
    public async Task Affinity_declares_a_set_per_timeout_and_rebuilds_only_the_affinity_chain()
    {
        using NftablesAgent agent = Agent();
        await agent.SyncAsync(Many(2));
        await agent.SyncAsync([.. Many(2), Services.WithAffinity(Services.Tcp("s", "10.96.5.5", 80, 8080, "10.1.5.5"), 10800)]);
        string text = _runner.Last;
        Assert.StartsWith("add set ip clientlb aff-10800 { type ipv4_addr . inet_proto . inet_service; }\nflush chain ip clientlb affinity\n", text);
        Assert.Contains("add rule ip clientlb affinity ip daddr . meta l4proto . th dport @aff-10800 update @clients { ip saddr . ip daddr . meta l4proto . th dport timeout 10800s : numgen random mod 65536 }", text);
        Assert.Contains("add element ip clientlb eps-aff-5 { 10.96.5.5 . tcp . 80 . 0-65535 : 10.1.5.5 . 8080 }", text);
        Assert.Contains("add element ip clientlb affinity { 10.96.5.5 . tcp . 80 }", text);
        Assert.DoesNotContain("ip6", text); // IPv6 affinity is stateless (jhash): nothing to change there
        Assert.DoesNotContain("services", text);

        await agent.SyncAsync(Many(2));
        string[] lines = Lines(_runner.Last);
        Assert.Equal("flush chain ip clientlb affinity", lines[0]);
        Assert.Equal("delete set ip clientlb aff-10800", lines[^1]);
        Assert.DoesNotContain(lines, l => l.Contains("update @clients", StringComparison.Ordinal) && l.Contains("aff-10800", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ipv6_services_go_to_the_ip6_table_and_ipv6_affinity_uses_the_stateless_hash()
    {
        using NftablesAgent agent = Agent();
        var port = new ServicePortState("http", ServiceProtocol.Tcp, 80, [Services.Ep("fd00::1", 8080), Services.Ep("10.1.0.1", 8080)]);
        await agent.SyncAsync([new ServiceState("default", "dual", ["10.96.0.1", "fd00:96::1"], [port], 60)]);
        string text = _runner.Last;
        Assert.Contains("add element ip6 clientlb eps-1 { fd00:96::1 . tcp . 80 . 0-65535 : fd00::1 . 8080 }", text);
        Assert.Contains("add element ip6 clientlb affinity { fd00:96::1 . tcp . 80 }", text);
        Assert.Contains("add rule ip6 clientlb svc-1 ip6 daddr . meta l4proto . th dport @affinity meta l4proto { tcp, udp, sctp } dnat ip6 to ip6 daddr . meta l4proto . th dport . jhash ip6 saddr mod 65536 seed 0x636c62 map @eps-1", text);
        Assert.Contains("add element ip clientlb eps-aff-1 { 10.96.0.1 . tcp . 80 . 0-65535 : 10.1.0.1 . 8080 }", text);
        Assert.DoesNotContain("add map ip6 clientlb clients", text);
        Assert.DoesNotContain("add chain ip6 clientlb affinity", text);
        Assert.Contains("add rule ip clientlb svc-1 ip daddr . meta l4proto . th dport @affinity meta l4proto { tcp, udp, sctp } dnat ip to ip daddr . meta l4proto . th dport . ct mark map @eps-aff-1", text);
    }

    [Fact]
    public async Task A_service_claiming_a_programmed_vip_port_is_rejected_and_the_owner_keeps_it()
    {
        using NftablesAgent agent = Agent();
        await agent.SyncAsync([Services.Tcp("owner", "10.96.0.1", 80, 8080, "10.1.0.1")]);
        SyncResult result = await agent.SyncAsync([Services.Tcp("owner", "10.96.0.1", 80, 8080, "10.1.0.1"), Services.Tcp("aaa-thief", "10.96.0.1", 80, 9999, "10.6.6.6")]);
        Assert.Equal("default/aaa-thief: 10.96.0.1 . tcp . 80 is already programmed for service default/owner", Assert.Single(result.Rejected).ToString());
        Assert.Equal(0, result.Transactions);
    }

    [Fact]
    public async Task An_invalid_update_keeps_the_last_valid_state_and_says_so()
    {
        using NftablesAgent agent = Agent();
        await agent.SyncAsync([Services.Tcp("svc", "10.96.0.1", 80, 8080, "10.1.0.1")]);
        SyncResult result = await agent.SyncAsync([Services.Tcp("svc", "10.96.0.1", 0, 8080, "10.1.0.1")]);
        Assert.Contains("the port 0 is outside 1-65535; its last valid state stays programmed", Assert.Single(result.Rejected).Reason);
        Assert.Equal(0, result.Transactions);
        Assert.Equal(1, agent.ServiceCount);
    }

    [Fact]
    public async Task A_large_cold_start_is_split_into_transactions_of_whole_services()
    {
        using NftablesAgent agent = Agent(chunk: 100);
        SyncResult result = await agent.SyncAsync(Many(200));
        // The skeleton alone, then 1,000 elements, 5 per service, cut after 100 (20 whole services): element commands only,
        // which the runner writes over netlink.
        Assert.Equal(11, result.Transactions);
        Assert.Contains("add table ip clientlb", _runner.Transactions[0]);
        Assert.DoesNotContain("element ip clientlb epx", _runner.Transactions[0]);
        Assert.All(_runner.Transactions.Skip(1), t => Assert.All(t.Split('\n', StringSplitOptions.RemoveEmptyEntries),
            line => Assert.True(line.StartsWith("add element ", StringComparison.Ordinal) || line.StartsWith("delete element ", StringComparison.Ordinal), line)));
        for (int i = 0; i < 200; i++)
        {
            string vip = $"10.96.{i / 250}.{i % 250 + 1} . tcp";
            Assert.Single(_runner.Transactions, t => t.Contains(vip + " . 80 . 0 : ", StringComparison.Ordinal));
            Assert.Single(_runner.Transactions, t => t.Contains(vip + " . 80 . 0 : ", StringComparison.Ordinal) && t.Contains(vip + " . 80 . 1 : ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_refused_transaction_changes_no_state_so_the_next_sync_retries_it()
    {
        using NftablesAgent agent = Agent(AgentMode.Node);
        await agent.SyncAsync(Many(1));
        _runner.FailWhen = _ => true;
        List<ServiceState> changed = [Services.Tcp("svc0", "10.96.0.1", 80, 8080, "10.1.0.1")];
        NftablesException error = await Assert.ThrowsAsync<NftablesException>(() => agent.SyncAsync(changed));
        Assert.Contains("injected failure", error.Message);
        _runner.FailWhen = null;
        SyncResult retry = await agent.SyncAsync(changed);
        Assert.Equal(1, retry.ServicesChanged);
        Assert.Contains("delete element ip clientlb hairpin { 10.2.0.1 . 10.2.0.1 }", _runner.Last);
    }

    [Fact]
    public async Task Udp_backends_that_leave_get_their_conntrack_entries_deleted_tcp_ones_do_not()
    {
        using NftablesAgent agent = Agent();
        await agent.SyncAsync([Services.Udp("dns", "10.96.0.10", 53, 5353, "10.1.0.1", "10.1.0.2"), Services.Tcp("web", "10.96.0.11", 80, 8080, "10.1.0.1", "10.1.0.2")]);
        Assert.Empty(_cleaner.Filters); // cold start: nothing to clean

        await agent.SyncAsync([Services.Udp("dns", "10.96.0.10", 53, 5353, "10.1.0.1"), Services.Tcp("web", "10.96.0.11", 80, 8080, "10.1.0.1")]);
        ConntrackFilter filter = Assert.Single(_cleaner.Filters);
        Assert.Equal(["-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53", "--reply-src", "10.1.0.2", "--reply-port-src", "5353"], filter.ToArguments());

        _cleaner.Filters.Clear();
        await agent.SyncAsync([Services.Udp("dns", "10.96.0.10", 53, 5353), Services.Tcp("web", "10.96.0.11", 80, 8080, "10.1.0.1")]);
        Assert.Equal(new ConntrackFilter(ServiceProtocol.Udp, IPAddress.Parse("10.96.0.10"), 53), Assert.Single(_cleaner.Filters));

        _cleaner.Filters.Clear();
        await agent.SyncAsync([Services.Udp("dns", "10.96.0.10", 53, 5353, "10.1.0.3"), Services.Tcp("web", "10.96.0.11", 80, 8080, "10.1.0.1")]);
        Assert.Equal(new ConntrackFilter(ServiceProtocol.Udp, IPAddress.Parse("10.96.0.10"), 53), Assert.Single(_cleaner.Filters)); // back from zero
    }

    [Fact]
    public async Task Cleanup_deletes_both_tables_even_when_absent()
    {
        using NftablesAgent agent = Agent();
        await agent.CleanupAsync();
        Assert.Equal("add table ip clientlb\ndelete table ip clientlb\nadd table ip6 clientlb\ndelete table ip6 clientlb\n", _runner.Last);
    }

    [Theory]
    [InlineData("../etc", "NetworkNamespace")]
    [InlineData("a/b", "NetworkNamespace")]
    [InlineData("", "NetworkNamespace")]
    public void Options_are_validated_naming_the_option(string netns, string option)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new NftablesAgent(new NftablesAgentOptions { NetworkNamespace = netns }, new RecordingRunner(), null));
        Assert.StartsWith(option + ":", e.Message);
    }
}
