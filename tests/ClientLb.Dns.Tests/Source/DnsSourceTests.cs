using System.Net;
using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Source;
using ClientLb.Dns.Tests.Infrastructure;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Sources;

namespace ClientLb.Dns.Tests.Source;

/// <summary>The DNS endpoint source against a real dnsmasq: modes, TTL refresh, failures and negative answers.</summary>
public sealed class DnsSourceTests : IAsyncLifetime
{
    private const string Zone = "prod.svc.cluster.local";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private Dnsmasq _dns = null!;

    private static string[] Records(string webIp = "10.0.0.1") =>
    [
        $"--host-record=web-0.web.{Zone},{webIp},fd00::1",
        $"--host-record=web-1.web.{Zone},10.0.0.2",
        $"--host-record=web-2.web.{Zone},10.0.0.3",
        $"--host-record=vip.{Zone},10.96.0.20",
        $"--host-record=dual.{Zone},10.0.0.5,fd00::5",
        $"--srv-host=_http._tcp.web.{Zone},web-0.web.{Zone},8080,0,10",
        $"--srv-host=_http._tcp.web.{Zone},web-1.web.{Zone},8080,0,20",
        $"--srv-host=_http._tcp.web.{Zone},web-2.web.{Zone},8080,1,5",
        $"--srv-host=_grpc._tcp.web.{Zone},web-0.web.{Zone},9090,0,0",
        $"--srv-host=_grpc._tcp.web.{Zone},web-1.web.{Zone},9090,0,0",
        $"--srv-host=_metrics._tcp.web.{Zone},missing.web.{Zone},9100,0,1",
        $"--srv-host=_metrics._tcp.web.{Zone},web-2.web.{Zone},9100,5,1",
    ];

    private static string PodsHosts(int count, int first = 1) =>
        string.Join('\n', Enumerable.Range(first, count).Select(i => $"10.2.0.{i} pods.{Zone}")) + "\n";

    public async Task InitializeAsync() => _dns = await Dnsmasq.StartAsync(Records(), PodsHosts(40));

    public async Task DisposeAsync() => await _dns.DisposeAsync();

    private static string[] Authorities(IEndpointSource source) =>
        source.Current!.Endpoints.Select(e => e.Authority).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Headless_A_and_AAAA_give_every_pod_on_the_port_from_the_URL()
    {
        await using DnsEndpointSource source = new SourceHarness(_dns).Create($"http://pods.prod:8080");

        TimeSpan next = await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(40, source.Current!.Endpoints.Length);
        Assert.All(source.Current.Endpoints, e => Assert.Equal(8080, e.Port));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"10.2.0.{i}:8080").Order(StringComparer.Ordinal), Authorities(source));
        Assert.Equal("dns", source.Current.SourceKind);
        Assert.Equal(TimeSpan.FromSeconds(5), next);
        Assert.True(source.Status.IsHealthy);

        // dnsmasq rotates the record order between answers; the same set must not count as a change.
        await source.RefreshAsync(CancellationToken.None);
        await source.RefreshAsync(CancellationToken.None);
        Assert.Equal(1, source.Current.Version);
    }

    [Fact]
    public async Task Dual_stack_pods_give_both_addresses()
    {
        await using DnsEndpointSource source = new SourceHarness(_dns).Create("dual.prod:8443");
        await using DnsEndpointSource v4 = new SourceHarness(_dns, o => o.AddressFamilies = DnsAddressFamilies.IPv4).Create("dual.prod:8443");

        await source.RefreshAsync(CancellationToken.None);
        await v4.RefreshAsync(CancellationToken.None);

        Assert.Equal(["10.0.0.5:8443", "[fd00::5]:8443"], Authorities(source));
        Assert.Equal(["10.0.0.5:8443"], Authorities(v4));
    }

    [Fact]
    public async Task SRV_uses_the_lowest_priority_group_with_its_weights_and_ports()
    {
        var harness = new SourceHarness(_dns, o => o.AddressFamilies = DnsAddressFamilies.IPv4);
        await using DnsEndpointSource http = harness.Create("_http.web.prod");
        await using DnsEndpointSource grpc = harness.Create("web.prod:grpc");

        await http.RefreshAsync(CancellationToken.None);
        await grpc.RefreshAsync(CancellationToken.None);

        Assert.Equal($"_http._tcp.web.{Zone}.", http.Description.Split(' ')[^1]);
        Assert.Equal(["10.0.0.1:8080", "10.0.0.2:8080"], Authorities(http));
        Assert.Equal(10, http.Current!.Endpoints.Single(e => e.Host == "10.0.0.1").Weight);
        Assert.Equal(20, http.Current.Endpoints.Single(e => e.Host == "10.0.0.2").Weight);
        Assert.Equal("web-1", http.Current.Endpoints.Single(e => e.Host == "10.0.0.2").Hostname);
        Assert.Equal(["10.0.0.1:9090", "10.0.0.2:9090"], Authorities(grpc));
        Assert.All(grpc.Current!.Endpoints, e => Assert.Equal(1, e.Weight));
    }

    [Fact]
    public async Task SRV_falls_back_to_the_next_priority_when_no_target_of_the_lowest_resolves()
    {
        await using DnsEndpointSource source = new SourceHarness(_dns, o => o.AddressFamilies = DnsAddressFamilies.IPv4).Create("_metrics.web.prod");

        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(["10.0.0.3:9100"], Authorities(source));
    }

    [Fact]
    public async Task ClusterIP_mode_gives_the_single_VIP_and_says_balancing_then_has_one_target()
    {
        var harness = new SourceHarness(_dns, o => o.Mode = DnsResolutionMode.ClusterIp);
        await using DnsEndpointSource source = harness.Create("http://vip.prod");

        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(["10.96.0.20:80"], Authorities(source));
        string log = Assert.Single(harness.Logs.Messages, m => m.Contains("single virtual IP", StringComparison.Ordinal));
        Assert.Contains("kube-proxy balances per connection", log, StringComparison.Ordinal);
        Assert.Contains("Kubernetes EndpointSlice source", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NXDOMAIN_for_an_unknown_service_is_reported_clearly()
    {
        await using DnsEndpointSource source = new SourceHarness(_dns).Create("http://nosuch.prod");
        source.Start();

        EndpointSourceException ex = await Assert.ThrowsAsync<EndpointSourceException>(async () => await source.GetSnapshotAsync().AsTask().WaitAsync(Patience));

        Assert.Contains("NXDOMAIN", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"nosuch.{Zone}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("kubectl get svc nosuch -n prod", ex.Message, StringComparison.Ordinal);
        Assert.IsType<DnsServiceNotFoundException>(source.Status.LastError);
    }

    [Fact]
    public async Task A_server_that_stops_answering_leaves_the_last_known_good_endpoints_and_backs_off()
    {
        await using Dnsmasq own = await Dnsmasq.StartAsync(Records());
        await using DnsEndpointSource source = new SourceHarness(own, o =>
        {
            o.FailureBackoffInitial = TimeSpan.FromSeconds(2);
            o.FailureBackoffMax = TimeSpan.FromSeconds(5);
        }).Create("_http.web.prod");
        await source.RefreshAsync(CancellationToken.None);
        string[] good = Authorities(source);
        long version = source.Current!.Version;

        await own.StopAsync();
        TimeSpan first = await source.RefreshAsync(CancellationToken.None);
        TimeSpan second = await source.RefreshAsync(CancellationToken.None);
        TimeSpan third = await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(good, Authorities(source));
        Assert.Equal(version, source.Current.Version);
        Assert.False(source.Status.IsHealthy);
        Assert.Equal(3, source.Status.ConsecutiveFailures);
        Assert.IsType<DnsResolutionException>(source.Status.LastError);
        Assert.Contains("did not answer", source.Status.LastError!.Message, StringComparison.Ordinal);
        Assert.InRange(first, TimeSpan.FromSeconds(1.6), TimeSpan.FromSeconds(2));
        Assert.InRange(second, TimeSpan.FromSeconds(3.2), TimeSpan.FromSeconds(4));
        Assert.InRange(third, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task The_refresh_loop_waits_for_the_TTL_and_then_sees_changed_records()
    {
        await using Dnsmasq own = await Dnsmasq.StartAsync(Records(), PodsHosts(3), localTtl: 7);
        var harness = new SourceHarness(own);
        await using DnsEndpointSource source = harness.Create("http://pods.prod:80");
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.Start();
        EndpointSnapshot first = await source.GetSnapshotAsync().AsTask().WaitAsync(Patience);
        await harness.Clock.WaitForTimerAsync(Patience);
        Assert.Equal([TimeSpan.FromSeconds(7)], harness.Clock.PendingDelays());

        await own.RestartAsync(Records(), PodsHosts(2, first: 10), localTtl: 7);
        using IDisposable subscription = source.Subscribe(s =>
        {
            if (s.Current!.Version > first.Version)
            {
                changed.TrySetResult();
            }
        });
        harness.Clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(first.Version, source.Current!.Version);
        harness.Clock.Advance(TimeSpan.FromSeconds(1));
        await changed.Task.WaitAsync(Patience);

        Assert.Equal(["10.2.0.1:80", "10.2.0.2:80", "10.2.0.3:80"], first.Endpoints.Select(e => e.Authority).Order(StringComparer.Ordinal));
        Assert.Equal(["10.2.0.10:80", "10.2.0.11:80"], Authorities(source));
    }

    [Fact]
    public async Task An_empty_answer_for_a_known_service_keeps_the_list_until_the_grace_period_ends()
    {
        await using Dnsmasq own = await Dnsmasq.StartAsync(Records(), PodsHosts(2));
        var harness = new SourceHarness(own, o => o.EmptyAnswerGracePeriod = TimeSpan.FromSeconds(20));
        await using DnsEndpointSource source = harness.Create("http://pods.prod:80");
        await source.RefreshAsync(CancellationToken.None);

        await own.RestartAsync(Records(), hosts: "");
        TimeSpan next = await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(2, source.Current!.Endpoints.Length);
        DnsServiceNotFoundException notFound = Assert.IsType<DnsServiceNotFoundException>(source.Status.LastError);
        Assert.Contains("NXDOMAIN", notFound.Message, StringComparison.Ordinal);
        Assert.Contains(harness.Logs.Messages, m => m.Contains("keeping 2 endpoint(s)", StringComparison.Ordinal));
        Assert.True(next <= TimeSpan.FromSeconds(20));

        harness.Clock.Advance(TimeSpan.FromSeconds(19));
        await source.RefreshAsync(CancellationToken.None);
        Assert.Equal(2, source.Current.Endpoints.Length);

        harness.Clock.Advance(TimeSpan.FromSeconds(1));
        await source.RefreshAsync(CancellationToken.None);
        Assert.Empty(source.Current.Endpoints);
        Assert.IsType<DnsServiceNotFoundException>(source.Status.LastError);
        Assert.Contains(harness.Logs.Messages, m => m.Contains("removing all 2 endpoint(s)", StringComparison.Ordinal));

        await own.RestartAsync(Records(), PodsHosts(1));
        await source.RefreshAsync(CancellationToken.None);
        Assert.Equal(["10.2.0.1:80"], Authorities(source));
        Assert.True(source.Status.IsHealthy);
    }

    [Fact]
    public async Task With_the_search_list_a_short_name_resolves_as_in_a_pod()
    {
        await using DnsEndpointSource source = new SourceHarness(_dns, o =>
        {
            o.UseSearchList = true;
            o.Search = [Zone, "svc.cluster.local", "cluster.local"];
            o.Ndots = 5;
        }).Create("http://vip.prod");

        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal("dns Headless vip.prod", source.Description);
        Assert.Equal(["10.96.0.20:80"], Authorities(source));
    }

    [Fact]
    public void Names_the_DNS_source_cannot_serve_are_left_to_other_factories()
    {
        var harness = new SourceHarness(_dns);
        var srvOnly = new SourceHarness(_dns, o => o.Mode = DnsResolutionMode.Srv);
        var defaultPort = new SourceHarness(_dns, o => o.DefaultPort = 8080);

        Assert.Null(harness.Factory.TryCreate(ServiceName.Parse("web.prod")));
        Assert.Null(srvOnly.Factory.TryCreate(ServiceName.Parse("http://web.prod")));
        Assert.Contains(harness.Logs.Messages, m => m.Contains("DefaultPort is not set", StringComparison.Ordinal));
        Assert.Equal(443, harness.Factory.Plan(ServiceName.Parse("https://web.prod"))!.Port);
        Assert.Equal(8080, defaultPort.Factory.Plan(ServiceName.Parse("web.prod"))!.Port);
        Assert.Equal(DnsResolutionMode.Srv, harness.Factory.Plan(ServiceName.Parse("_grpc.web.prod"))!.Mode);
        Assert.Equal("dns", harness.Factory.Kind);
    }
}
