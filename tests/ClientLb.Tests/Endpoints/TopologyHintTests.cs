using System.Net;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.Endpoints;

/// <summary>EndpointSlice hints read as kube-proxy reads them, in the shared <see cref="TopologyFilter"/> and through a balancer.</summary>
public sealed class TopologyHintTests
{
    private static Endpoint At(int last, string[]? forNodes = null, string[]? forZones = null, bool ready = true, string? node = null, string? zone = null) =>
        new(IPAddress.Parse($"10.0.0.{last}"), 80, ready ? null : new EndpointConditions(false, true, true), zone: zone, nodeName: node,
            zoneHints: forZones, nodeHints: forNodes);

    private static TopologyLevel Hinted(params Endpoint[] endpoints) => TopologyFilter.Choose(endpoints, e => e, _ => true, "n1", "z1", null);

    private static string[] Chosen(Endpoint[] endpoints, TopologyLevel level) =>
        [.. endpoints.Where(e => TopologyFilter.IsIn(e, level, "n1", "z1")).Select(e => e.Host)];

    [Fact]
    public void Every_endpoint_hinted_and_one_for_this_node_keeps_the_node_s_endpoints_and_node_hints_beat_zone_hints()
    {
        Endpoint[] endpoints =
        [
            At(1, ["n1"], ["z1"]), At(2, ["n2"], ["z1"]), At(3, ["n1"], ["z1"]), At(4, ["n4"], ["z2"]),
        ];
        Assert.Equal(TopologyLevel.NodeHints, Hinted(endpoints));
        Assert.Equal(["10.0.0.1", "10.0.0.3"], Chosen(endpoints, TopologyLevel.NodeHints));
    }

    [Fact]
    public void One_ready_endpoint_without_a_node_hint_falls_back_to_zone_hints_and_without_either_to_all()
    {
        Endpoint[] noNodeHint = [At(1, ["n1"], ["z1"]), At(2, null, ["z1"]), At(3, ["n3"], ["z2"])];
        Assert.Equal(TopologyLevel.ZoneHints, Hinted(noNodeHint));
        Assert.Equal(["10.0.0.1", "10.0.0.2"], Chosen(noNodeHint, TopologyLevel.ZoneHints));

        Assert.Equal(TopologyLevel.Any, Hinted(At(1, ["n1"], ["z1"]), At(2), At(3, ["n3"], ["z2"])));
    }

    [Fact]
    public void Hints_naming_neither_this_node_nor_this_zone_keep_all()
    {
        Assert.Equal(TopologyLevel.ZoneHints, Hinted(At(1, ["n2"], ["z1"]), At(2, ["n3"], ["z2"])));
        Assert.Equal(TopologyLevel.Any, Hinted(At(1, ["n2"], ["z2"]), At(2, ["n3"], ["z3"])));
        // A process that does not know its node or zone cannot use them either.
        Endpoint[] endpoints = [At(1, ["n1"], ["z1"]), At(2, ["n2"], ["z2"])];
        Assert.Equal(TopologyLevel.Any, TopologyFilter.Choose(endpoints, e => e, _ => true, null, null, null));
        Assert.Equal(TopologyLevel.ZoneHints, TopologyFilter.Choose(endpoints, e => e, _ => true, null, "z1", null));
    }

    [Fact]
    public void Only_ready_endpoints_count_and_the_serving_terminating_fallback_ignores_hints()
    {
        // A terminating endpoint without hints (the controller hints ready endpoints only) does not turn hints off.
        Assert.Equal(TopologyLevel.NodeHints, Hinted(At(1, ["n1"], ["z1"]), At(2, ["n2"], ["z2"]), At(3, ready: false)));
        Assert.Equal(TopologyLevel.Any, Hinted(At(1, ["n1"], ["z1"], ready: false), At(2, ["n2"], ["z2"], ready: false)));
    }

    [Fact]
    public void A_hinted_set_without_a_healthy_endpoint_widens_to_the_location_preference_or_all()
    {
        Endpoint[] endpoints = [At(1, ["n1"], ["z1"], node: "n1", zone: "z1"), At(2, ["n2"], ["z1"], node: "n2", zone: "z1"), At(3, ["n3"], ["z2"], node: "n3", zone: "z2")];
        Func<Endpoint, bool> nodeOneDown = e => e.Host != "10.0.0.1";
        Assert.Equal(TopologyLevel.NodeHints, TopologyFilter.Choose(endpoints, e => e, e => e.Host != "10.0.0.3", "n1", "z1", null));
        Assert.Equal(TopologyLevel.Any, TopologyFilter.Choose(endpoints, e => e, nodeOneDown, "n1", "z1", null));
        Assert.Equal(TopologyLevel.Zone, TopologyFilter.Choose(endpoints, e => e, nodeOneDown, "n1", "z1", 0.5));
        // Without hints the opt-in location preference decides alone, as before.
        Endpoint[] plain = [At(1, node: "n1", zone: "z1"), At(2, node: "n2", zone: "z1")];
        Assert.Equal(TopologyLevel.Node, TopologyFilter.Choose(plain, e => e, _ => true, "n1", "z1", 0.7));
        Assert.Equal(TopologyLevel.Any, TopologyFilter.Choose(plain, e => e, _ => true, "n1", "z1", null));
    }

    [Fact]
    public void Levels_are_described_in_words_for_the_log()
    {
        Assert.Equal("node hints", TopologyFilter.Describe(TopologyLevel.NodeHints));
        Assert.Equal("zone hints", TopologyFilter.Describe(TopologyLevel.ZoneHints));
        Assert.Equal("same node", TopologyFilter.Describe(TopologyLevel.Node));
        Assert.Equal("all", TopologyFilter.Describe(TopologyLevel.Any));
    }

    [Fact]
    public async Task The_balancer_follows_hints_without_the_location_preference_and_widens_when_the_hinted_endpoints_are_ejected()
    {
        var time = new FakeTimeProvider();
        var factory = new TestSourceFactory();
        TestSource source = factory.Add("hinted");
        var config = new Dictionary<string, string?>
        {
            ["ClientLb:Locality:NodeName"] = "n1",
            ["ClientLb:Services:hinted:Health:ConsecutiveServerErrors"] = "1",
            ["ClientLb:Services:hinted:Health:MaxEjectedShare"] = "1",
            ["ClientLb:Services:hinted:Health:PanicThreshold"] = "0",
        };
        await using var host = new ClientLbTestHost(config, services =>
        {
            services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory);
            services.AddSingleton<TimeProvider>(time);
        });
        source.Set(At(1, ["n1"], ["z1"]), At(2, ["n2"], ["z1"]), At(3, ["n3"], ["z2"]));
        ServiceBalancer balancer = host.Registry.GetBalancer("hinted");
        Assert.False(balancer.Options.Topology.Enabled);
        Assert.Equal(TopologyLevel.NodeHints, balancer.TopologyLevel);
        Assert.Equal(["10.0.0.1"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host));

        long start = balancer.OnAttemptStart();
        balancer.OnAttemptEnd(balancer.Picker.Endpoints[0], start, AttemptOutcome.ServerUnavailable);
        Assert.Equal(TopologyLevel.Any, balancer.TopologyLevel);
        Assert.Equal(["10.0.0.2", "10.0.0.3"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order());

        time.Advance(TimeSpan.FromSeconds(31));
        balancer.OnAttemptStart();
        Assert.Equal(TopologyLevel.NodeHints, balancer.TopologyLevel);
    }

    [Fact]
    public async Task A_new_topology_level_shows_only_once_the_picker_that_keeps_traffic_there_takes_requests()
    {
        // Whoever reads the level and then sends a request must be picked by that level: the sandbox topology test once saw
        // zone hints reported and its next request still picked on node hints, by the picker not yet swapped in.
        var factory = new TestSourceFactory();
        TestSource source = factory.Add("hinted");
        ServiceBalancer? balancer = null;
        string Seen() => $"{balancer!.TopologyLevel} picks {string.Join(", ", balancer.Picker.Endpoints.Select(e => e.Endpoint.Host))}";
        var whileBuilding = new List<string>();
        var policy = new ObservingPolicy(() =>
        {
            if (balancer is not null)
            {
                whileBuilding.Add(Seen());
            }
        });
        var config = new Dictionary<string, string?>
        {
            ["ClientLb:Locality:NodeName"] = "n1", ["ClientLb:Locality:Zone"] = "z1", ["ClientLb:Services:hinted:Policy"] = policy.Name,
        };
        await using var host = new ClientLbTestHost(config, services =>
        {
            services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory);
            services.AddSingleton<ClientLb.Balancing.Policies.ILoadBalancingPolicy>(policy);
        });
        source.Set(At(1, ["n1"], ["z1"]), At(2, ["n2"], ["z1"]), At(3, ["n3"], ["z2"]));
        balancer = host.Registry.GetBalancer("hinted");
        Assert.Equal("NodeHints picks 10.0.0.1", Seen());

        source.Set(At(1, ready: false), At(2, ["n2"], ["z1"]), At(3, ["n3"], ["z2"])); // node one's endpoint stops being ready
        Assert.Equal("ZoneHints picks 10.0.0.2", Seen());
        // While the zone-hints picker was being built the node-hints one still took requests, so the node-hints level showed.
        Assert.Equal(["NodeHints picks 10.0.0.1"], whileBuilding);
    }

    /// <summary>Round robin that calls back whenever the balancer builds a picker (before the balancer swaps it in).</summary>
    private sealed class ObservingPolicy(Action building) : ClientLb.Balancing.Policies.ILoadBalancingPolicy
    {
        private readonly ClientLb.Balancing.Policies.RoundRobinPolicy _roundRobin = new();

        public string Name => "Observing";

        public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints)
        {
            building();
            return _roundRobin.CreatePicker(endpoints);
        }
    }
}
