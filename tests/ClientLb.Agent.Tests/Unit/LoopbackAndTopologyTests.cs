using System.Net;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Agent.Validation;
using ClientLb.Eligibility;
using ClientLb.Endpoints;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>127.0.0.0/8 VIPs (sidecar mode only) and topology preference from the agent's node and zone.</summary>
public sealed class LoopbackAndTopologyTests
{
    private static readonly ValidationPolicy Sidecar = new(AllowLoopbackVips: true);

    private static Endpoint Ep(string address, string? zone, string? node = null) =>
        new(IPAddress.Parse(address), 8080, new EndpointConditions(true, true, false), zone: zone, nodeName: node);

    private static ServiceState Web(string vip, params Endpoint[] endpoints) =>
        new("default", "web", [vip], [new ServicePortState("http", ServiceProtocol.Tcp, 80, endpoints)]);

    [Theory]
    [InlineData("127.96.0.10")]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.255.254")]
    public void Sidecar_mode_accepts_a_127_8_vip(string vip)
    {
        Assert.True(ServiceValidator.TryValidate(Web(vip, Ep("10.1.0.1", null)), Sidecar, out ValidatedService? service, out string? error), error);
        Assert.Equal(IPAddress.Parse(vip), Assert.Single(service.Ports).Vip);
    }

    [Fact]
    public void Sidecar_mode_still_rejects_ipv6_loopback_loopback_endpoints_and_other_special_vips()
    {
        Assert.False(ServiceValidator.TryValidate(Web("::1", Ep("fd00::1", null)), Sidecar, out _, out string? error));
        Assert.Contains("::1 is a loopback address", error);
        Assert.False(ServiceValidator.TryValidate(Web("127.96.0.10", Ep("127.0.0.2", null)), Sidecar, out _, out error));
        Assert.Contains("endpoint address 127.0.0.2 is a loopback address", error);
        Assert.False(ServiceValidator.TryValidate(Web("169.254.0.1", Ep("10.1.0.1", null)), Sidecar, out _, out error));
        Assert.Contains("link-local", error);
        Assert.False(ServiceValidator.TryValidate(Web("127.096.0.1", Ep("10.1.0.1", null)), Sidecar, out _, out error));
        Assert.Contains("the cluster IP '127.096.0.1' is not an IP address", error);
    }

    [Fact]
    public async Task A_sidecar_sync_with_a_loopback_vip_sets_route_localnet_first_and_masquerades_loopback_sources()
    {
        var runner = new RecordingRunner();
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar }, runner, null);
        SyncResult first = await agent.SyncAsync([Services.Tcp("plain", "10.96.0.1", 80, 8080, "10.1.0.1")]);
        Assert.Empty(first.Rejected);
        Assert.Equal(0, runner.RouteLocalnetCalls); // no loopback VIP: the namespace's sysctls are left alone
        Assert.Contains("add rule ip clientlb nat-postrouting ct status dnat ip saddr 127.0.0.0/8 masquerade", runner.Last);
        Assert.DoesNotContain("add rule ip6 clientlb nat-postrouting ct status dnat ip saddr 127", runner.Last);

        SyncResult second = await agent.ApplyAsync([Services.Tcp("web", "127.96.0.10", 80, 8080, "10.1.0.2")], []);
        Assert.Empty(second.Rejected);
        Assert.Equal(1, runner.RouteLocalnetCalls);
        Assert.Equal(1, runner.TransactionsBeforeRouteLocalnet); // before the transaction that adds the VIP
        Assert.Contains("127.96.0.10 . tcp . 80 . 0 : 10.1.0.2 . 8080", runner.Last);

        await agent.ApplyAsync([Services.Tcp("web", "127.96.0.10", 80, 8080, "10.1.0.3")], []);
        Assert.Equal(1, runner.RouteLocalnetCalls); // once per agent
    }

    [Fact]
    public async Task Node_mode_rejects_a_loopback_vip_with_the_reason_and_touches_no_sysctl()
    {
        var runner = new RecordingRunner();
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Node }, runner, null);
        SyncResult result = await agent.SyncAsync([Services.Tcp("web", "127.96.0.10", 80, 8080, "10.1.0.2"), Services.Tcp("ok", "10.96.0.1", 80, 8080, "10.1.0.1")]);
        ServiceRejection rejection = Assert.Single(result.Rejected);
        Assert.Equal("default/web", rejection.Service);
        Assert.Equal("the cluster IP 127.96.0.10 is a loopback address (127.0.0.0/8 VIPs are accepted in sidecar mode only)", rejection.Reason);
        Assert.Equal(0, runner.RouteLocalnetCalls);
        Assert.DoesNotContain("127.96.0.10", runner.Last);
    }

    [Fact]
    public void With_a_zone_the_same_zone_endpoints_are_preferred_and_others_take_over_when_none_is_eligible()
    {
        ServiceState service = Web("10.96.0.1", Ep("10.1.0.1", "zone-a"), Ep("10.1.0.2", "zone-b"), Ep("10.1.0.3", "zone-a"), Ep("10.1.0.4", null));
        Assert.True(ServiceValidator.TryValidate(service, new ValidationPolicy(false, Zone: "zone-a"), out ValidatedService? local, out _));
        Assert.Equal(["10.1.0.1", "10.1.0.3"], local.Ports[0].Targets.Select(t => t.Address.ToString()));

        // Without node or zone: no topology filtering.
        Assert.True(ServiceValidator.TryValidate(service, ValidationPolicy.Node, out ValidatedService? all, out _));
        Assert.Equal(["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"], all.Ports[0].Targets.Select(t => t.Address.ToString()));

        // Same-zone endpoints that are not ready are not eligible (EndpointSelector first): the zone set is empty, all others serve.
        ServiceState zoneDown = Web("10.96.0.1",
            new Endpoint(IPAddress.Parse("10.1.0.1"), 8080, new EndpointConditions(false, false, false), zone: "zone-a"),
            Ep("10.1.0.2", "zone-b"), Ep("10.1.0.4", null));
        Assert.True(ServiceValidator.TryValidate(zoneDown, new ValidationPolicy(false, Zone: "zone-a"), out ValidatedService? spill, out _));
        Assert.Equal(["10.1.0.2", "10.1.0.4"], spill.Ports[0].Targets.Select(t => t.Address.ToString()));
    }

    [Fact]
    public async Task The_agent_applies_its_node_before_its_zone()
    {
        var runner = new RecordingRunner();
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NodeName = "node-1", Zone = "zone-a" }, runner, null);
        ServiceState service = Web("10.96.0.1", Ep("10.1.0.1", "zone-a", "node-2"), Ep("10.1.0.2", "zone-a", "node-1"), Ep("10.1.0.3", "zone-b", "node-3"));
        await agent.SyncAsync([service]);
        Assert.Contains("10.96.0.1 . tcp . 80 . 0 : 10.1.0.2 . 8080", runner.Last);
        Assert.DoesNotContain(": 10.1.0.1 . 8080", runner.Last);
        Assert.DoesNotContain(": 10.1.0.3 . 8080", runner.Last);

        // The node's endpoint goes: the zone's takes over.
        await agent.ApplyAsync([Web("10.96.0.1", Ep("10.1.0.1", "zone-a", "node-2"), Ep("10.1.0.3", "zone-b", "node-3"))], []);
        Assert.Contains("10.96.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080", runner.Last);
        Assert.DoesNotContain(": 10.1.0.3 . 8080", runner.Last);
    }

    [Fact]
    public void Endpoint_slice_hints_are_mapped_and_win_over_where_endpoints_run()
    {
        // The zones the (topology-mode: Auto) controller allocated, not where the pods run: kube-proxy follows the hints.
        Kubernetes.Model.Endpoint At(string ip, string zone, string forZone, string? forNode = null) => new()
        {
            Address = ip,
            Conditions = new Kubernetes.Model.EndpointConditions { Ready = true },
            Zone = zone,
            Hints = new Kubernetes.Model.EndpointHints
            {
                ForZones = [new Kubernetes.Model.ForZone { Name = forZone }],
                ForNodes = forNode is null ? null : [new Kubernetes.Model.ForNode { Name = forNode }],
            },
        };
        var service = new Kubernetes.Model.Service
        {
            Metadata = new() { Name = "web", Namespace = "shop" },
            Spec = new() { ClusterIP = "10.96.0.1", Ports = [new() { Name = "http", Port = 80 }] },
        };
        var slice = new Kubernetes.Model.EndpointSlice
        {
            Metadata = new() { Name = "web-1", Labels = new() { [ClientLb.Kubernetes.Slices.EndpointSliceCache.ServiceNameLabel] = "web" } },
            AddressType = "IPv4",
            Ports = [new() { Name = "http", Port = 8080 }],
            Endpoints = [At("10.1.0.1", "zone-a", "zone-b"), At("10.1.0.2", "zone-b", "zone-a")],
        };
        ServiceState state = ServiceStateMapper.Map(Services.Slices(service, slice), out _, [])!;
        Assert.True(ServiceValidator.TryValidate(state, new ValidationPolicy(false, "node-1", "zone-a"), out ValidatedService? hinted, out _));
        Assert.Equal(["10.1.0.2"], hinted.Ports[0].Targets.Select(t => t.Address.ToString()));

        // Node hints for this node beat zone hints.
        slice.Endpoints = [At("10.1.0.1", "zone-a", "zone-b", "node-1"), At("10.1.0.2", "zone-b", "zone-a", "node-2")];
        state = ServiceStateMapper.Map(Services.Slices(service, slice), out _, [])!;
        Assert.Equal(["node-1"], state.Ports[0].Endpoints[0].NodeHints);
        Assert.True(ServiceValidator.TryValidate(state, new ValidationPolicy(false, "node-1", "zone-a"), out hinted, out _));
        Assert.Equal(["10.1.0.1"], hinted.Ports[0].Targets.Select(t => t.Address.ToString()));
    }
}
