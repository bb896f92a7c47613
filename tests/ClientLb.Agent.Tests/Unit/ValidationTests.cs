using System.Net;
using ClientLb.Agent.Model;
using ClientLb.Agent.Validation;
using ClientLb.Endpoints;

namespace ClientLb.Agent.Tests.Unit;

public sealed class ValidationTests
{
    private static readonly ServicePortState Http = new("http", ServiceProtocol.Tcp, 80, [Services.Ep("10.1.0.1", 8080)]);

    private static string Reject(ServiceState service)
    {
        Assert.False(ServiceValidator.TryValidate(service, out _, out string? error));
        return error;
    }

    [Theory]
    [InlineData("10.1", "'10.1' is not a canonical dotted-quad IPv4 address (a lenient parser reads it as 10.0.0.1)")]
    [InlineData("0x0a000001", "'0x0a000001' is not a canonical dotted-quad IPv4 address")]
    [InlineData("010.1.1.1", "'010.1.1.1' is not a canonical dotted-quad IPv4 address (a lenient parser reads it as 8.1.1.1)")]
    [InlineData("10.96.0.300", "is not an IP address")]
    [InlineData("10.96.0.1 } ; flush ruleset", "is not an IP address")]
    [InlineData("fe80::1%eth0", "is not an IPv6 address")]
    [InlineData("::ffff:10.1.1.1", "IPv4-mapped")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("127.0.0.1", "loopback address (127.0.0.0/8 VIPs are accepted in sidecar mode only)")] // node mode
    [InlineData("::1", "loopback")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("169.254.1.1", "link-local")]
    [InlineData("None", "headless")]
    [InlineData("", "the cluster IP: the address is empty")]
    public void A_bad_cluster_ip_is_rejected_naming_it(string vip, string reason)
    {
        string error = Reject(new ServiceState("ns", "svc", [vip], [Http]));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Two_cluster_ips_of_one_family_or_three_in_all_are_rejected()
    {
        Assert.Contains("two cluster IPs of the family", Reject(new ServiceState("ns", "svc", ["10.96.0.1", "10.96.0.2"], [Http])));
        Assert.Contains("3 cluster IPs", Reject(new ServiceState("ns", "svc", ["10.96.0.1", "fd00::1", "10.96.0.2"], [Http])));
        Assert.Contains("no cluster IP", Reject(new ServiceState("ns", "svc", [], [Http])));
    }

    [Theory]
    [InlineData("Default", "svc", "namespace 'Default' is not a DNS-1123 label")]
    [InlineData("ns", "svc\"; flush ruleset", "service name 'svc\"; flush ruleset' is not a DNS-1123 label")]
    [InlineData("ns", "-svc", "not a DNS-1123 label")]
    [InlineData("ns", "", "service name is empty")]
    [InlineData("ns", "svc\n", "svc\\u000a")]
    public void A_bad_name_is_rejected_naming_it(string ns, string name, string reason) =>
        Assert.Contains(reason, Reject(new ServiceState(ns, name, ["10.96.0.1"], [Http])));

    [Fact]
    public void A_huge_name_is_rejected_with_its_length_and_shown_shortened()
    {
        string error = Reject(new ServiceState("ns", new string('x', 5000), ["10.96.0.1"], [Http]));
        Assert.Contains("5000 characters long (at most 63)", error);
        Assert.True(error.Length < 200, error);
    }

    [Theory]
    [InlineData(0, "the port 0 is outside 1-65535")]
    [InlineData(65536, "the port 65536 is outside 1-65535")]
    [InlineData(-1, "the port -1 is outside 1-65535")]
    public void A_port_out_of_range_is_rejected(int port, string reason) =>
        Assert.Contains(reason, Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [new ServicePortState("http", ServiceProtocol.Tcp, port, [])])));

    [Fact]
    public void Ports_protocols_names_timeouts_and_endpoints_are_checked()
    {
        Assert.Contains("TCP port 80 is listed twice", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [Http, Http])));
        Assert.Contains("a port is null", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [Http, null!])));
        Assert.Contains("a cluster IP is null", Reject(new ServiceState("ns", "svc", [null!], [Http])));
        Assert.Contains("an endpoint is null", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [new ServicePortState(null, ServiceProtocol.Tcp, 80, [null!])])));
        Assert.Contains("no ports", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [])));
        Assert.Contains("protocol value 7", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [new ServicePortState(null, (ServiceProtocol)7, 80, [])])));
        Assert.Contains("port name", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [new ServicePortState("a--b", ServiceProtocol.Tcp, 80, [])])));
        Assert.Contains("port name is 16 characters", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [new ServicePortState(new string('a', 16), ServiceProtocol.Tcp, 80, [])])));
        Assert.Contains("timeout 0 s is outside 1-86400", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [Http], 0)));
        Assert.Contains("timeout 86401 s", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [Http], 86401)));
        Assert.Contains("'backend.example' is a DNS name", Reject(new ServiceState("ns", "svc", ["10.96.0.1"], [new ServicePortState(null, ServiceProtocol.Tcp, 80, [Endpoint.ForDnsName("backend.example", 80)])])));
        // A port whose every endpoint is invalid is rejected (its last valid state stays programmed), naming why.
        Assert.Contains("every one of its 1 endpoint(s) is invalid (port http: the endpoint address 224.1.1.1 is a multicast", Reject(Services.Tcp("svc", "10.96.0.1", 80, 80, "224.1.1.1")));
        Assert.Contains("endpoint address 127.0.0.2 is a loopback", Reject(Services.Tcp("svc", "10.96.0.1", 80, 80, "127.0.0.2")));
    }

    // Issue 15, defect 1: a slice address in lenient form (010.0.0.1 is 8.0.0.1 to IPAddress.Parse) never reaches a rule.
    [Fact]
    public void Non_canonical_slice_addresses_are_left_out_of_the_state_and_reported()
    {
        var service = new Kubernetes.Model.Service
        {
            Metadata = new() { Name = "web", Namespace = "shop" },
            Spec = new() { ClusterIP = "10.96.0.9", Ports = [new() { Name = "http", Port = 80, Protocol = "TCP" }] },
        };
        var slice = new Kubernetes.Model.EndpointSlice
        {
            Metadata = new() { Name = "web-abc", Namespace = "shop" },
            AddressType = "IPv4",
            Ports = [new() { Name = "http", Port = 8080, Protocol = "TCP" }],
            Endpoints = [.. new[] { "010.0.0.1", "10.1", "0x0a000001", "10.1.0.7" }.Select(a => new Kubernetes.Model.Endpoint { Address = a, Conditions = new() { Ready = true } })],
        };
        var warnings = new List<string>();
        var dropped = new List<string>();

        ServiceState state = ClientLb.Agent.Controller.ServiceStateMapper.Map(Services.Slices(service, slice), out _, warnings, (record, reason) => dropped.Add($"{record}: {reason}"))!;

        Assert.Equal(["10.1.0.7"], state.Ports[0].Endpoints.Select(e => e.Host));
        Assert.Equal(3, dropped.Count);
        Assert.Contains(dropped, d => d.StartsWith("EndpointSlice web-abc endpoint '010.0.0.1': ", StringComparison.Ordinal) && d.Contains("8.0.0.1", StringComparison.Ordinal));
    }

    // Issue 15, defect 3: one invalid endpoint no longer freezes the whole service's rules.
    [Fact]
    public void A_service_is_programmed_without_its_invalid_endpoints_which_are_named()
    {
        ServiceState service = Services.Tcp("svc", "10.96.0.1", 80, 8080, "10.1.0.1", "169.254.169.254", "224.1.1.1", "10.1.0.2", "0.0.0.0");

        Assert.True(ServiceValidator.TryValidate(service, out ValidatedService? validated, out string? error), error);

        Assert.Equal(["10.1.0.1", "10.1.0.2"], validated.Ports[0].Targets.Select(t => t.Address.ToString()));
        Assert.Equal(3, validated.Dropped.Length);
        Assert.Contains(validated.Dropped, d => d.Contains("169.254.169.254 is the link-local cloud metadata address", StringComparison.Ordinal));
        Assert.Contains(validated.Dropped, d => d.Contains("0.0.0.0 is an unspecified", StringComparison.Ordinal));
    }

    [Fact]
    public void Dual_stack_splits_endpoints_by_family_and_selects_per_family_with_the_shared_selector()
    {
        var port = new ServicePortState("http", ServiceProtocol.Tcp, 80,
        [
            Services.Ep("10.1.0.2", 8080),
            Services.Ep("10.1.0.1", 8080),
            Services.Ep("10.1.0.1", 8080), // a duplicate (two slices): one target
            Services.Ep("10.1.0.3", 8080, ready: false),
            Services.Ep("fd00::2", 8080, ready: false, serving: true, terminating: true),
        ]);
        Assert.True(ServiceValidator.TryValidate(new ServiceState("ns", "svc", ["10.96.0.1", "fd00::10"], [port]), out ValidatedService? service, out _));
        ValidatedPort v4 = service.Ports.Single(p => p.Vip.Equals(IPAddress.Parse("10.96.0.1")));
        ValidatedPort v6 = service.Ports.Single(p => p.Vip.Equals(IPAddress.Parse("fd00::10")));
        Assert.Equal(["10.1.0.1", "10.1.0.2"], v4.Targets.Select(t => t.Address.ToString()));
        Assert.Equal(["fd00::2"], v6.Targets.Select(t => t.Address.ToString())); // serving+terminating fallback
    }

    [Fact]
    public void No_eligible_endpoint_gives_the_selector_reason()
    {
        Assert.True(ServiceValidator.TryValidate(new ServiceState("ns", "svc", ["10.96.0.1"],
            [new ServicePortState(null, ServiceProtocol.Udp, 53, [Services.Ep("10.1.0.1", 53, ready: false, serving: false)])]), out ValidatedService? service, out _));
        Assert.Empty(service.Ports[0].Targets);
        Assert.Equal("no ready endpoints; 1 not ready", service.Ports[0].EmptyReason);
    }

    [Theory]
    [InlineData("TCP", ServiceProtocol.Tcp)]
    [InlineData(null, ServiceProtocol.Tcp)]
    [InlineData("UDP", ServiceProtocol.Udp)]
    [InlineData("SCTP", ServiceProtocol.Sctp)]
    public void Protocols_parse_from_the_api_spelling(string? text, ServiceProtocol expected)
    {
        Assert.True(ServiceProtocols.TryParse(text, out ServiceProtocol protocol, out _));
        Assert.Equal(expected, protocol);
    }

    [Fact]
    public void An_unknown_protocol_is_rejected_naming_it()
    {
        Assert.False(ServiceProtocols.TryParse("tcp } accept", out _, out string? error));
        Assert.Equal("the protocol 'tcp } accept' is not one of TCP, UDP, SCTP", error);
    }
}
