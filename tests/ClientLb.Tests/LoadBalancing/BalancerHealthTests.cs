using System.Net;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.LoadBalancing;

/// <summary>Topology preference, slow start and the retry budget, driven through a balancer with a test source and a fake clock.</summary>
public sealed class BalancerHealthTests
{
    private readonly FakeTimeProvider _time = new();

    private (ClientLbTestHost Host, TestSource Source) Create(string service, Dictionary<string, string?> config)
    {
        var factory = new TestSourceFactory();
        TestSource source = factory.Add(service);
        var host = new ClientLbTestHost(config, services =>
        {
            services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory);
            services.AddSingleton<TimeProvider>(_time);
        });
        return (host, source);
    }

    private static Endpoint At(int last, string? zone = null, string? node = null) =>
        new(IPAddress.Parse($"10.0.0.{last}"), 80, zone: zone, nodeName: node);

    private static void Fail(ServiceBalancer balancer, BalancedEndpoint endpoint, int times)
    {
        for (int i = 0; i < times; i++)
        {
            long start = balancer.OnAttemptStart();
            balancer.OnAttemptEnd(endpoint, start, AttemptOutcome.ServerUnavailable);
        }
    }

    [Fact]
    public async Task Topology_prefers_the_node_then_the_zone_and_widens_when_too_little_is_healthy()
    {
        var config = new Dictionary<string, string?>
        {
            ["ClientLb:Locality:NodeName"] = "n1",
            ["ClientLb:Locality:Zone"] = "z1",
            ["ClientLb:Services:topo:Topology:Enabled"] = "true",
            ["ClientLb:Services:topo:Topology:MinHealthyShare"] = "0.6",
            ["ClientLb:Services:topo:Health:ConsecutiveServerErrors"] = "1",
            ["ClientLb:Services:topo:Health:MaxEjectedShare"] = "1",
            ["ClientLb:Services:topo:Health:PanicThreshold"] = "0",
        };
        (ClientLbTestHost host, TestSource source) = Create("topo", config);
        await using ClientLbTestHost _ = host;
        source.Set(At(1, "z1", "n1"), At(2, "z1", "n2"), At(3, "z1", "n3"), At(4, "z2", "n4"), At(5, "z2", "n5"));
        ServiceBalancer balancer = host.Registry.GetBalancer("topo");

        Assert.Equal(TopologyLevel.Node, balancer.TopologyLevel);
        Assert.Equal(["10.0.0.1"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host));

        // The node's only endpoint fails: the zone takes over.
        Fail(balancer, balancer.Picker.Endpoints[0], 1);
        Assert.Equal(TopologyLevel.Zone, balancer.TopologyLevel);
        Assert.Equal(["10.0.0.2", "10.0.0.3"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order());

        // One of the two healthy zone endpoints fails: 1 of 3 in the zone is below 0.6, so traffic spreads to all.
        Fail(balancer, balancer.Picker.Endpoints.Single(e => e.Endpoint.Host == "10.0.0.2"), 1);
        Assert.Equal(TopologyLevel.Any, balancer.TopologyLevel);
        Assert.Equal(["10.0.0.3", "10.0.0.4", "10.0.0.5"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order());

        // They return after the ejection: back on the node.
        _time.Advance(TimeSpan.FromSeconds(31));
        balancer.OnAttemptStart();
        Assert.Equal(TopologyLevel.Node, balancer.TopologyLevel);
    }

    private sealed class AffinitySource(ClientLb.Names.ServiceName service, TimeProvider time)
        : ClientLb.Sources.EndpointSource(service, "test", "affinity test source", time), ClientLb.Sources.ISessionAffinitySource
    {
        public TimeSpan? ClientIpAffinityTimeout { get; set; }

        public void Set(params Endpoint[] endpoints) => Publish(endpoints);
    }

    private sealed class AffinitySourceFactory(AffinitySource source) : ClientLb.Sources.IEndpointSourceFactory
    {
        public string Kind => "test";

        public ClientLb.Sources.IEndpointSource? TryCreate(ClientLb.Names.ServiceName service) => service.Name == "kube" ? source : null;
    }

    [Fact]
    public async Task A_source_reporting_client_ip_affinity_makes_the_service_sticky_unless_configuration_names_a_policy()
    {
        var source = new AffinitySource(ClientLb.Names.ServiceName.Parse("kube"), _time) { ClientIpAffinityTimeout = TimeSpan.FromSeconds(60) };
        var config = new Dictionary<string, string?> { ["ClientLb:Locality:Address"] = "10.9.9.9" };
        await using var host = new ClientLbTestHost(config, services =>
        {
            services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(new AffinitySourceFactory(source));
            services.AddSingleton<TimeProvider>(_time);
        });
        source.Set(At(1), At(2), At(3));
        ServiceBalancer balancer = host.Registry.GetBalancer("kube");
        BalancedEndpoint first = balancer.Pick(new PickContext(null));
        Assert.All(Enumerable.Range(0, 20), _ => Assert.Same(first, balancer.Pick(new PickContext(null))));
        // The Service's timeout, not the 10800 s default.
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.NotSame(first, balancer.Pick(new PickContext(null)));

        // Affinity removed from the Service (and the source notifies): back to the default policy.
        source.ClientIpAffinityTimeout = null;
        source.Set(At(1), At(2), At(3), At(4));
        Assert.Equal(4, Enumerable.Range(0, 8).Select(_ => balancer.Pick(new PickContext(null))).Distinct().Count());
    }

    [Fact]
    public void The_topology_filter_is_shared_code_over_plain_endpoints()
    {
        Endpoint[] endpoints = [At(1, "z1", "n1"), At(2, "z1", "n2"), At(3, "z2", "n3")];
        Assert.Equal(TopologyLevel.Node, TopologyFilter.Choose(endpoints, e => e, _ => true, "n1", "z1", 0.7));
        Assert.Equal(TopologyLevel.Zone, TopologyFilter.Choose(endpoints, e => e, _ => true, "n9", "z1", 0.7));
        Assert.Equal(TopologyLevel.Any, TopologyFilter.Choose(endpoints, e => e, e => e.Host != "10.0.0.1", "n1", "z1", 0.7));
        Assert.Equal(TopologyLevel.Any, TopologyFilter.Choose(endpoints, e => e, _ => true, null, null, 0.7));
    }

    [Fact]
    public async Task A_new_endpoint_ramps_up_over_the_slow_start_window()
    {
        var config = new Dictionary<string, string?>
        {
            ["ClientLb:Services:warm:Policy"] = "Random",
            ["ClientLb:Services:warm:Health:SlowStartWindow"] = "00:00:10",
        };
        (ClientLbTestHost host, TestSource source) = Create("warm", config);
        await using ClientLbTestHost _ = host;
        source.Set(At(1), At(2));
        ServiceBalancer balancer = host.Registry.GetBalancer("warm");
        // Endpoints of the first answer take their full share at once.
        Assert.IsNotType<SlowStartPicker>(balancer.Picker);

        source.Set(At(1), At(2), At(3));
        double Share()
        {
            int hits = 0;
            for (int i = 0; i < 30_000; i++)
            {
                hits += balancer.Pick(new PickContext(null)).Endpoint.Host == "10.0.0.3" ? 1 : 0;
            }
            return hits / 30_000.0;
        }
        // Full share would be 1/3. At 1 s: 10% of it (the floor); at 5 s about half; after 10 s all of it.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.InRange(Share(), 0.025, 0.045);
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.InRange(Share(), 0.14, 0.20);
        _time.Advance(TimeSpan.FromSeconds(6));
        balancer.OnAttemptStart();
        Assert.IsNotType<SlowStartPicker>(balancer.Picker);
        Assert.InRange(Share(), 0.31, 0.36);
    }

    [Fact]
    public void The_retry_budget_allows_a_share_of_recent_requests_plus_a_minimum()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Ratio = 0.2, MinRetriesPerSecond = 1, Window = TimeSpan.FromSeconds(10) }, _time);
        for (int i = 0; i < 100; i++)
        {
            budget.Deposit(_time.GetTimestamp());
        }
        int allowed = 0;
        while (budget.TryWithdraw())
        {
            allowed++;
        }
        Assert.Equal(30, allowed);

        // Half the window later the old requests still count; a full window later they have expired.
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(budget.TryWithdraw());
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal((0, 0), budget.Window());
        Assert.True(budget.TryWithdraw());

        budget.Configure(new RetryBudgetOptions { Enabled = false });
        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(budget.TryWithdraw()));
    }
}
