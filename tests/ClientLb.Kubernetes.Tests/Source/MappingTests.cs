using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Names;
using ClientLb.Registry;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;
using Conditions = ClientLb.Kubernetes.Model.EndpointConditions;

namespace ClientLb.Kubernetes.Tests.Source;

public class MappingTests
{
    private static Service Svc(params (string? Name, int Port, object Target)[] ports) => new()
    {
        Metadata = new ObjectMeta { Name = "pay", Namespace = "fin" },
        Spec = new ServiceSpec
        {
            Ports = [.. ports.Select(p => new ServicePort { Name = p.Name, Port = p.Port, TargetPort = p.Target is int n ? new IntOrString(n) : new IntOrString((string)p.Target) })],
        },
    };

    private static Model.Endpoint Ep(string ip, bool? ready = true, bool? serving = null, bool? terminating = null, string? zone = null, string? node = null, params string[] hints) => new()
    {
        Address = ip,
        Conditions = new Conditions { Ready = ready, Serving = serving, Terminating = terminating },
        Zone = zone,
        NodeName = node,
        Hostname = "h-" + ip,
        Hints = hints.Length == 0 ? null : new EndpointHints { ForZones = [.. hints.Select(h => new ForZone { Name = h })] },
    };

    private static EndpointSlice Slice(string name, string type, (string? Name, int Port)[] ports, params Model.Endpoint[] endpoints) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new() { ["kubernetes.io/service-name"] = "pay" } },
        AddressType = type,
        Ports = [.. ports.Select(p => new EndpointPort { Name = p.Name, Port = p.Port, Protocol = "TCP" })],
        Endpoints = [.. endpoints],
    };

    private static PortChoice Choose(string name, Service? service, params EndpointSlice[] slices)
    {
        PortChoice choice = PortResolver.Resolve(ServiceName.Parse(name), service, slices, out string? error);
        Assert.Null(error);
        return choice;
    }

    private static string Fail(string name, Service? service, params EndpointSlice[] slices)
    {
        PortResolver.Resolve(ServiceName.Parse(name), service, slices, out string? error);
        return Assert.IsType<string>(error);
    }

    [Fact]
    public void Named_and_numbered_ports_map_through_the_service_port_to_the_slice_port_name()
    {
        Service svc = Svc(("http", 80, "web"), ("grpc", 9000, 9090));
        Assert.Equal(new PortChoice("http", null), Choose("http://pay.fin", svc));
        Assert.Equal(new PortChoice("grpc", null), Choose("pay.fin:grpc", svc));
        Assert.Equal(new PortChoice("grpc", null), Choose("http://_grpc.pay.fin", svc));
        Assert.Equal(new PortChoice("grpc", null), Choose("http://pay.fin:9000", svc));
        Assert.Equal(new PortChoice("http", null), Choose("http://pay.fin:80", svc));
    }

    [Fact]
    public void Without_a_port_the_only_port_or_the_schemes_port_is_used()
    {
        Assert.Equal(new PortChoice("", null), Choose("http://pay.fin", Svc((null, 8443, 8443))));
        Assert.Equal(new PortChoice("", null), Choose("pay.fin", Svc((null, 8443, 8443))));
        Assert.Equal(new PortChoice("https", null), Choose("https://pay.fin", Svc(("metrics", 9100, 9100), ("https", 8443, 8443))));
        Assert.Equal(new PortChoice("web", null), Choose("http://pay.fin", Svc(("metrics", 9100, 9100), ("web", 80, 8080))));
    }

    [Fact]
    public void Ambiguous_or_unknown_ports_fail_naming_the_service_and_its_ports()
    {
        Service svc = Svc(("metrics", 9100, 9100), ("admin", 8081, 8081));
        string none = Fail("http://pay.fin", svc);
        Assert.Contains("pay.fin has several ports", none);
        Assert.Contains("metrics 9100->9100", none);
        Assert.Contains("no port named 'grpc'", Fail("pay.fin:grpc", svc));
        string wrong = Fail("http://pay.fin:8080", Svc(("http", 80, 8080)));
        Assert.Contains("no port 8080", wrong);
        Assert.Contains("not the pod's targetPort", wrong);
        Assert.Contains("has no ports", Fail("pay.fin", Svc()));
    }

    [Fact]
    public void Without_a_service_object_slices_are_matched_by_name_or_number()
    {
        EndpointSlice a = Slice("a", "IPv4", [("web", 8080)], Ep("10.0.0.1"));
        Assert.Equal(new PortChoice("web", null), Choose("pay.fin", null, a));
        Assert.Equal(new PortChoice(null, 8080), Choose("http://pay.fin:8080", null, a));
        Assert.Contains("none of its EndpointSlices has a port named 'x'", Fail("pay.fin:x", null, a));
        Assert.Contains("none of its EndpointSlices has the port 9", Fail("http://pay.fin:9", null, a));
        EndpointSlice b = Slice("b", "IPv4", [("metrics", 9100)], Ep("10.0.0.2"));
        Assert.Contains("several ports (web, metrics)", Fail("pay.fin", null, a, b));
    }

    [Fact]
    public void Merges_every_slice_with_each_slices_target_port_and_keeps_both_families()
    {
        EndpointSlice v4a = Slice("v4a", "IPv4", [("http", 8080)], Ep("10.0.0.1", zone: "z1", node: "n1"), Ep("10.0.0.2"));
        // Another slice of the same service whose pods serve the named targetPort on another number.
        EndpointSlice v4b = Slice("v4b", "IPv4", [("http", 8081)], Ep("10.0.0.3"));
        EndpointSlice v6 = Slice("v6", "IPv6", [("http", 8080)], Ep("fd00::1"));
        EndpointSlice other = Slice("metrics", "IPv4", [("metrics", 9100)], Ep("10.0.0.9"));
        EndpointSlice fqdn = Slice("fqdn", "FQDN", [("http", 8080)], new Model.Endpoint { Address = "example.com" });
        List<ClientEndpoint> endpoints = EndpointMapper.Map([v4a, v4b, v6, other, fqdn], new PortChoice("http", null));
        Assert.Equal(["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8081", "[fd00::1]:8080"], endpoints.Select(e => e.Authority));
        ClientEndpoint first = endpoints[0];
        Assert.Equal(("z1", "n1", "h-10.0.0.1"), (first.Zone, first.NodeName, first.Hostname));
    }

    [Fact]
    public void Duplicates_across_slices_appear_once_and_the_ready_copy_wins()
    {
        EndpointSlice old = Slice("a", "IPv4", [("http", 8080)], Ep("10.0.0.1", ready: false, serving: false));
        EndpointSlice moved = Slice("b", "IPv4", [("http", 8080)], Ep("10.0.0.1", ready: true), Ep("10.0.0.2"));
        List<ClientEndpoint> endpoints = EndpointMapper.Map([old, moved], new PortChoice("http", null));
        Assert.Equal(2, endpoints.Count);
        Assert.True(endpoints.Single(e => e.Host == "10.0.0.1").Conditions.Ready);
    }

    [Fact]
    public void Conditions_follow_the_nil_rules_and_hints_are_kept()
    {
        EndpointSlice slice = Slice("a", "IPv4", [("", 8080)],
            Ep("10.0.0.1", ready: null, serving: null, terminating: null, zone: "z1", node: null, "z1", "z2"),
            Ep("10.0.0.2", ready: false, serving: true, terminating: true),
            new Model.Endpoint { Address = "10.0.0.3" },
            new Model.Endpoint { Address = "not-an-ip" },
            new Model.Endpoint());
        List<ClientEndpoint> endpoints = EndpointMapper.Map([slice], new PortChoice("", null));
        Assert.Equal(3, endpoints.Count);
        Assert.Equal(new Endpoints.EndpointConditions(true, true, false), endpoints[0].Conditions);
        Assert.Equal(["z1", "z2"], endpoints[0].ZoneHints);
        Assert.Equal(new Endpoints.EndpointConditions(false, true, true), endpoints[1].Conditions);
        Assert.Empty(endpoints[1].ZoneHints);
        Assert.Equal(new Endpoints.EndpointConditions(true, true, false), endpoints[2].Conditions);
    }

    [Fact]
    public void Zone_hints_take_part_in_endpoint_equality()
    {
        var a = new ClientEndpoint(System.Net.IPAddress.Loopback, 80, zoneHints: ["z1"]);
        var b = new ClientEndpoint(System.Net.IPAddress.Loopback, 80, zoneHints: ["z2"]);
        var c = new ClientEndpoint(System.Net.IPAddress.Loopback, 80, zoneHints: ["z1"]);
        Assert.NotEqual(a, b);
        Assert.Equal(a, c);
        Assert.Equal(["z1"], a.WithConditions(new Endpoints.EndpointConditions(false, false, true)).ZoneHints);
        Assert.Empty(new ClientEndpoint(System.Net.IPAddress.Loopback, 80).ZoneHints);
    }

    [Fact]
    public void Node_hints_are_read_from_json_mapped_and_take_part_in_endpoint_equality()
    {
        const string json = """{"metadata":{"name":"s1","labels":{"kubernetes.io/service-name":"pay"}},"addressType":"IPv4","endpoints":[""" +
            """{"addresses":["10.0.0.1"],"conditions":{"ready":true},"nodeName":"n1","zone":"z1","hints":{"forZones":[{"name":"z1"}],"forNodes":[{"name":"n1"}]}},""" +
            """{"addresses":["10.0.0.2"],"conditions":{"ready":true},"nodeName":"n2","zone":"z1","hints":{"forZones":[{"name":"z1"}],"forNodes":[{"name":""}]}},""" +
            """{"addresses":["10.0.0.3"],"conditions":{"ready":true},"nodeName":"n3"}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}""";
        EndpointSlice slice = System.Text.Json.JsonSerializer.Deserialize(json, KubernetesJsonContext.Default.EndpointSlice)!;
        Assert.Equal("n1", slice.Endpoints![0].Hints!.ForNodes![0].Name);

        List<ClientEndpoint> endpoints = EndpointMapper.Map([slice], new PortChoice("http", null));
        Assert.Equal(["n1"], endpoints[0].NodeHints);
        Assert.Equal(["z1"], endpoints[0].ZoneHints);
        Assert.Empty(endpoints[1].NodeHints); // an empty name is no hint
        Assert.Equal(["z1"], endpoints[1].ZoneHints);
        Assert.Empty(endpoints[2].NodeHints);
        Assert.Empty(endpoints[2].ZoneHints);

        var a = new ClientEndpoint(System.Net.IPAddress.Loopback, 80, nodeHints: ["n1"]);
        Assert.NotEqual(a, new ClientEndpoint(System.Net.IPAddress.Loopback, 80, nodeHints: ["n2"]));
        Assert.NotEqual(a, new ClientEndpoint(System.Net.IPAddress.Loopback, 80));
        Assert.Equal(a, new ClientEndpoint(System.Net.IPAddress.Loopback, 80, nodeHints: ["n1"]));
        Assert.Equal(["n1"], a.WithConditions(new Endpoints.EndpointConditions(false, true, true)).NodeHints);
    }

    [Fact]
    public void Service_info_reads_type_headless_affinity_and_traffic_distribution()
    {
        var svc = new Service
        {
            Spec = new ServiceSpec
            {
                ClusterIP = "None",
                SessionAffinity = "ClientIP",
                TrafficDistribution = "PreferClose",
                Ports = [new ServicePort { Name = "http", Port = 80 }],
            },
        };
        KubernetesServiceInfo info = KubernetesServiceInfo.From(svc);
        Assert.Equal(("ClusterIP", true, null as string, "ClientIP", TimeSpan.FromSeconds(10800), "PreferClose"),
            (info.Type, info.IsHeadless, info.ClusterIP, info.SessionAffinity, info.SessionAffinityTimeout, info.TrafficDistribution));
        svc.Spec.ClusterIP = "10.96.0.10";
        svc.Spec.SessionAffinity = null;
        KubernetesServiceInfo plain = KubernetesServiceInfo.From(svc);
        Assert.Equal(("10.96.0.10", false, "None", null as TimeSpan?), (plain.ClusterIP, plain.IsHeadless, plain.SessionAffinity, plain.SessionAffinityTimeout));
    }

    [Fact]
    public void Json_reads_the_api_shapes_including_int_or_string_and_error_events()
    {
        const string slices = """{"kind":"EndpointSliceList","metadata":{"resourceVersion":"42"},"items":[{"metadata":{"name":"s1","labels":{"kubernetes.io/service-name":"pay"}},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true},"zone":"z","hints":{"forZones":[{"name":"z"}]}}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]}""";
        KubernetesList<EndpointSlice> list = System.Text.Json.JsonSerializer.Deserialize(slices, KubernetesJsonContext.Default.KubernetesListEndpointSlice)!;
        Assert.Equal("42", list.Metadata.ResourceVersion);
        Assert.Equal("z", list.Items[0].Endpoints![0].Hints!.ForZones![0].Name);
        const string service = """{"metadata":{"name":"pay"},"spec":{"clusterIP":"None","ports":[{"name":"a","port":80,"targetPort":"web"},{"name":"b","port":81,"targetPort":8081}],"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}}}}""";
        Service svc = System.Text.Json.JsonSerializer.Deserialize(service, KubernetesJsonContext.Default.Service)!;
        Assert.Equal("web", svc.Spec.Ports![0].TargetPort!.Text);
        Assert.Equal(8081, svc.Spec.Ports[1].TargetPort!.Number);
        Assert.Equal(60, svc.Spec.SessionAffinityConfig!.ClientIP!.TimeoutSeconds);
        WatchEvent<EndpointSlice> error = Kubernetes.Client.KubernetesApiClient.ParseEvent(
            """{"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}""",
            KubernetesJsonContext.Default.WatchEventEndpointSlice, "p");
        Assert.Equal((410, "Expired"), (error.Status!.Code, error.Status.Reason));
        Assert.Throws<InvalidDataException>(() => Kubernetes.Client.KubernetesApiClient.ParseEvent("{not json", KubernetesJsonContext.Default.WatchEventEndpointSlice, "p"));
    }
}
