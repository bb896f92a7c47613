using System.Diagnostics;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>The agent in sidecar mode programs the client namespace; real curl/UDP/java clients go through the VIPs.</summary>
[Collection(NetnsCollection.Name)]
public sealed class TrafficTests : IDisposable
{
    private readonly NetnsFixture _net;
    private readonly NftablesAgent _agent;
    private static readonly string[] AllBackends = [NetnsFixture.BackendAddress(0), NetnsFixture.BackendAddress(1), NetnsFixture.BackendAddress(2)];

    public TrafficTests(NetnsFixture net)
    {
        _net = net;
        _agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NetworkNamespace = net.Client });
    }

    public void Dispose()
    {
        _agent.CleanupAsync().GetAwaiter().GetResult();
        _agent.Dispose();
    }

    [Fact]
    public async Task Curl_through_the_vip_is_spread_over_all_backends_and_a_removed_endpoint_leaves_rotation()
    {
        SyncResult first = await _agent.SyncAsync([Services.Tcp("web", "10.96.0.10", 80, NetnsFixture.HttpPort, AllBackends)]);
        Assert.Empty(first.Rejected);

        List<string> bodies = Traffic.Curl(_net.Client, "http://10.96.0.10/", 30);
        Assert.All(bodies, b => Assert.Matches("^b[123]$", b));
        Assert.Equal(["b1", "b2", "b3"], bodies.Distinct().Order());

        SyncResult second = await _agent.SyncAsync([Services.Tcp("web", "10.96.0.10", 80, NetnsFixture.HttpPort, AllBackends[0], AllBackends[1])]);
        Assert.Equal(1, second.Transactions);
        bodies = Traffic.Curl(_net.Client, "http://10.96.0.10/", 30);
        Assert.DoesNotContain("b3", bodies);
        Assert.Equal(["b1", "b2"], bodies.Distinct().Order());
    }

    [Fact]
    public async Task A_service_with_no_endpoints_rejects_at_once_and_comes_back_when_an_endpoint_appears()
    {
        SyncResult result = await _agent.SyncAsync([Services.Tcp("empty", "10.96.0.20", 80, NetnsFixture.HttpPort)]);
        Assert.Empty(result.Rejected);

        (int code, string error, TimeSpan elapsed) = Traffic.CurlOnce(_net.Client, "http://10.96.0.20/", timeoutSeconds: 5);
        Assert.Equal(7, code); // could not connect: refused by the TCP reset, not a timeout (28)
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"curl took {elapsed.TotalMilliseconds} ms: {error}");

        // Not ready endpoints are not eligible either (EndpointSelector), so still rejected.
        var notReady = new ServiceState("default", "empty", ["10.96.0.20"],
            [new ServicePortState("http", ServiceProtocol.Tcp, 80, [Services.Ep(AllBackends[0], NetnsFixture.HttpPort, ready: false, serving: false)])]);
        await _agent.SyncAsync([notReady]);
        Assert.Equal(7, Traffic.CurlOnce(_net.Client, "http://10.96.0.20/").ExitCode);

        await _agent.SyncAsync([Services.Tcp("empty", "10.96.0.20", 80, NetnsFixture.HttpPort, AllBackends[1])]);
        Assert.Equal(["b2"], Traffic.Curl(_net.Client, "http://10.96.0.20/", 5).Distinct());
    }

    [Fact]
    public async Task ClientIP_affinity_pins_a_client_to_one_backend_and_expires_after_the_timeout()
    {
        await _agent.SyncAsync([Services.WithAffinity(Services.Tcp("sticky", "10.96.0.30", 80, NetnsFixture.HttpPort, AllBackends), timeout: 3)]);

        List<string> bodies = Traffic.Curl(_net.Client, "http://10.96.0.30/", 15);
        Assert.Single(bodies.Distinct());
        Assert.Matches("^b[123]$", bodies[0]);
        string entry = Shell.Must("ip", "netns", "exec", _net.Client, "nft", "list", "map", "ip", "clientlb", "clients");
        Assert.Contains("10.231.0.1 . 10.96.0.30 . tcp . 80", entry);

        await Task.Delay(TimeSpan.FromSeconds(4.5));
        entry = Shell.Must("ip", "netns", "exec", _net.Client, "nft", "list", "map", "ip", "clientlb", "clients");
        Assert.DoesNotContain("10.96.0.30", entry);

        // Without affinity the same client is spread again.
        await _agent.SyncAsync([Services.Tcp("sticky", "10.96.0.30", 80, NetnsFixture.HttpPort, AllBackends)]);
        Assert.Equal(3, Traffic.Curl(_net.Client, "http://10.96.0.30/", 30).Distinct().Count());
    }

    [Fact]
    public async Task A_udp_flow_follows_an_endpoint_change_because_its_conntrack_entry_is_deleted()
    {
        await _agent.SyncAsync([Services.Udp("dns", "10.96.0.40", 53, NetnsFixture.UdpPort, AllBackends)]);
        List<string> before = Traffic.Udp(_net.Client, "10.96.0.40", 53, sourcePort: 40001, count: 3);
        Assert.Single(before.Distinct());
        string pinned = before[0];
        Assert.Matches("^b[123]$", pinned);

        // The pinned backend leaves the service but keeps running: only a deleted conntrack entry moves the flow.
        string[] remaining = [.. AllBackends.Where((_, i) => NetnsFixture.BackendName(i) != pinned)];
        SyncResult change = await _agent.SyncAsync([Services.Udp("dns", "10.96.0.40", 53, NetnsFixture.UdpPort, remaining)]);
        Assert.Equal(1, change.ConntrackFilters);
        Assert.Empty(change.ConntrackFailures);
        List<string> after = Traffic.Udp(_net.Client, "10.96.0.40", 53, sourcePort: 40001, count: 3);
        Assert.All(after, reply => Assert.Matches("^b[123]$", reply));
        Assert.DoesNotContain(pinned, after);

        // Scaled to zero: rejected (ICMP port unreachable), never answered by a stale backend.
        SyncResult zero = await _agent.SyncAsync([Services.Udp("dns", "10.96.0.40", 53, NetnsFixture.UdpPort)]);
        Assert.Equal(1, zero.ConntrackFilters);
        Assert.Equal(["REJECTED"], Traffic.Udp(_net.Client, "10.96.0.40", 53, sourcePort: 40001, count: 2).Distinct());
    }

    [Fact]
    public async Task Hostile_services_are_rejected_with_reasons_while_the_others_keep_working()
    {
        ServiceState good = Services.Tcp("good", "10.96.0.50", 80, NetnsFixture.HttpPort, AllBackends);
        ServiceState[] hostile =
        [
            Services.Tcp("bad-ip", "10.96.0.300", 80, NetnsFixture.HttpPort, AllBackends),
            Services.Tcp("spliced", "10.96.0.51 } ; flush ruleset ; {", 80, NetnsFixture.HttpPort, AllBackends),
            new ServiceState("default", "evil\"; flush ruleset", ["10.96.0.52"], good.Ports),
            new ServiceState("default", new string('a', 300), ["10.96.0.53"], good.Ports),
            Services.Tcp("port-zero", "10.96.0.54", 0, NetnsFixture.HttpPort, AllBackends),
            new ServiceState("default", "port-name", ["10.96.0.55"], [new ServicePortState("http } accept", ServiceProtocol.Tcp, 80, good.Ports[0].Endpoints)]),
            new ServiceState("default", "dns-endpoint", ["10.96.0.56"], [new ServicePortState(null, ServiceProtocol.Tcp, 80, [ClientLb.Endpoints.Endpoint.ForDnsName("evil.example", 80)])]),
            Services.Tcp("loopback-endpoint", "10.96.0.57", 80, 8080, "127.0.0.1"),
            Services.Tcp("steals-vip", "10.96.0.50", 80, NetnsFixture.HttpPort, AllBackends[0]),
            new ServiceState("default", "bad-protocol", ["10.96.0.58"], [new ServicePortState(null, (ServiceProtocol)99, 80, good.Ports[0].Endpoints)]),
        ];
        SyncResult result = await _agent.SyncAsync([good, .. hostile]);

        Assert.Equal(hostile.Length, result.Rejected.Count);
        string reasons = string.Join("\n", result.Rejected);
        Assert.Contains("default/bad-ip: the cluster IP '10.96.0.300'", reasons);
        Assert.Contains("default/spliced: the cluster IP", reasons);
        Assert.Contains("service name", reasons);
        Assert.Contains("300 characters long", reasons);
        Assert.Contains("the port 0 is outside 1-65535", reasons);
        Assert.Contains("port name", reasons);
        Assert.Contains("is a DNS name", reasons);
        Assert.Contains("loopback", reasons);
        Assert.Contains("10.96.0.50 . tcp . 80 is already programmed for service default/good", reasons);
        Assert.Contains("protocol value 99", reasons);
        Assert.Equal(3, Traffic.Curl(_net.Client, "http://10.96.0.50/", 30).Distinct().Count());
        string ruleset = Shell.Must("ip", "netns", "exec", _net.Client, "nft", "list", "ruleset");
        Assert.DoesNotContain("10.96.0.5", ruleset.Replace("10.96.0.50", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_seeds_java_net_http_client_reaches_the_vip_and_is_spread()
    {
        await _agent.SyncAsync([Services.Tcp("payment-service", "10.96.0.60", 80, NetnsFixture.HttpPort, AllBackends)]);
        List<string> bodies = Traffic.Java(_net.Client, "http://10.96.0.60/process", 24);
        Assert.Equal(24, bodies.Count);
        Assert.All(bodies, b => Assert.Matches("^b[123]$", b));
        Assert.True(bodies.Distinct().Count() >= 2, string.Join(",", bodies));
    }

    [Fact]
    public async Task A_dual_stack_service_balances_ipv6_through_the_ip6_table_with_stateless_affinity()
    {
        string[] v6 = [NetnsFixture.BackendAddress6(0), NetnsFixture.BackendAddress6(1), NetnsFixture.BackendAddress6(2)];
        ServicePortState Port() => new("http", ServiceProtocol.Tcp, 80,
            [.. AllBackends.Concat(v6).Select(a => Services.Ep(a, NetnsFixture.HttpPort))]);
        SyncResult result = await _agent.SyncAsync([new ServiceState("default", "dual", ["10.96.0.70", "fd00:96::70"], [Port()])]);
        Assert.Empty(result.Rejected);
        Assert.Equal(["b1", "b2", "b3"], Traffic.Curl(_net.Client, "-g http://[fd00:96::70]/", 30).Distinct().Order());
        Assert.Equal(["b1", "b2", "b3"], Traffic.Curl(_net.Client, "http://10.96.0.70/", 30).Distinct().Order());

        await _agent.SyncAsync([new ServiceState("default", "dual", ["10.96.0.70", "fd00:96::70"], [Port()], 60)]);
        Assert.Single(Traffic.Curl(_net.Client, "-g http://[fd00:96::70]/", 10).Distinct());
        Assert.Single(Traffic.Curl(_net.Client, "http://10.96.0.70/", 10).Distinct());
    }

    [Fact]
    public async Task Node_mode_programs_prerouting_and_output_and_the_nodes_own_connections_are_balanced_and_rejected()
    {
        using var node = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Node, NetworkNamespace = _net.Client2 });
        try
        {
            await node.SyncAsync([Services.Tcp("web", "10.96.3.10", 80, NetnsFixture.HttpPort, AllBackends), Services.Tcp("none", "10.96.3.11", 80, NetnsFixture.HttpPort)]);
            string chains = Shell.Must("ip", "netns", "exec", _net.Client2, "nft", "list", "chains", "ip");
            Assert.Contains("hook prerouting priority dstnat", chains);
            Assert.Contains("hook forward priority", chains);
            Assert.Equal(["b1", "b2", "b3"], Traffic.Curl(_net.Client2, "http://10.96.3.10/", 30).Distinct().Order());
            (int code, _, TimeSpan elapsed) = Traffic.CurlOnce(_net.Client2, "http://10.96.3.11/");
            Assert.Equal(7, code);
            Assert.True(elapsed < TimeSpan.FromSeconds(2));
        }
        finally
        {
            await node.CleanupAsync();
        }
    }

    [Fact]
    public async Task A_pod_reaching_itself_through_its_vip_is_answered_hairpin()
    {
        var start = new System.Diagnostics.ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["netns", "exec", _net.Client, "python3", "-c",
            "import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.send_header('Content-Length', '4'); self.end_headers(); self.wfile.write(b'self')\n    def log_message(self, *a): pass\nhttp.server.HTTPServer(('10.231.0.1', 8081), H).serve_forever()"])
        {
            start.ArgumentList.Add(a);
        }
        using Process server = System.Diagnostics.Process.Start(start)!;
        try
        {
            await _agent.SyncAsync([Services.Tcp("me", "10.96.0.80", 80, 8081, "10.231.0.1")]);
            List<string> bodies = [];
            for (int attempt = 0; attempt < 20 && !bodies.Contains("self"); attempt++)
            {
                await Task.Delay(100); // the server starts
                bodies = Traffic.Curl(_net.Client, "http://10.96.0.80/", 1);
            }
            Assert.Equal(["self"], bodies);
            // Answered without a hairpin entry: in sidecar mode DNAT to the pod's own address is local delivery, undone
            // on the reply by conntrack, so the agent writes none (Layout.Hairpin; node mode still does).
            string hairpin = Shell.Must("ip", "netns", "exec", _net.Client, "nft", "list", "set", "ip", "clientlb", "hairpin");
            Assert.DoesNotContain("10.231.0.1 . 10.231.0.1", hairpin);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }
}
