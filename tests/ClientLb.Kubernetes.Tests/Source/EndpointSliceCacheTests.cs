using System.Reflection;
using System.Runtime.CompilerServices;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Tests.Source;

/// <summary>
/// The one EndpointSlice cache (the SDK's watch scopes and the agent's controller keep their objects in it) and the one
/// mapping behind a Service port, through their public faces.
/// </summary>
public class EndpointSliceCacheTests
{
    private static EndpointSlice Slice(string name, string? service, string ns = "shop", string version = "1", string protocol = "TCP", int port = 8080, string portName = "http",
        string[]? addresses = null) => new()
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = ns,
                ResourceVersion = version,
                Labels = service is null ? [] : new() { [EndpointSliceCache.ServiceNameLabel] = service },
            },
            AddressType = "IPv4",
            Ports = [new EndpointPort { Name = portName, Port = port, Protocol = protocol }],
            Endpoints = [.. (addresses ?? []).Select(a => new Model.Endpoint { Address = a, Conditions = new Model.EndpointConditions { Ready = true } })],
        };

    private static Service Svc(string name, string ns = "shop", params ServicePort[] ports) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = ns, ResourceVersion = "1" },
        Spec = new ServiceSpec { ClusterIP = "10.96.0.10", ClusterIPs = ["10.96.0.10", "fd00::10"], Ports = [.. ports] },
    };

    private static string[] Keys(IEnumerable<ServiceKey> keys) => [.. keys.Select(static k => k.ToString()).Order(StringComparer.Ordinal)];

    private static string[] SliceNames(ServiceSlices service) => [.. service.Slices.Select(static s => s.Metadata.Name!)];

    [Fact]
    public void Slices_are_grouped_by_their_service_label_sorted_by_name_and_a_list_replaces_everything()
    {
        var cache = new EndpointSliceCache("shop");
        var touched = new HashSet<ServiceKey>();
        cache.ListSlices([Slice("web-b", "web"), Slice("api-1", "api"), Slice("web-a", "web"), Slice("stray", null)], "10", touched);
        Assert.Equal(["shop/api", "shop/web"], Keys(touched));
        Assert.Equal(["web-a", "web-b"], SliceNames(cache.Get("shop", "web")));
        Assert.False(cache.Synced);

        touched.Clear();
        cache.ListServices([Svc("web")], "11", touched);
        Assert.True(cache.Synced);
        Assert.True(cache.Get("shop", "web").HasService);
        Assert.False(cache.Get("shop", "api").HasService);

        touched.Clear();
        cache.ListSlices([Slice("web-c", "web")], "12", touched);
        Assert.Equal(["shop/api", "shop/web"], Keys(touched));
        Assert.Equal(["web-c"], SliceNames(cache.Get("shop", "web")));
        Assert.Equal(0, cache.Get("shop", "api").SliceCount);
        Assert.Equal([("shop", "web")], cache.GetAll().Select(static s => (s.Namespace, s.Name)));
    }

    [Fact]
    public void A_relabelled_slice_moves_to_its_new_service_and_one_that_lost_its_label_leaves()
    {
        var cache = new EndpointSliceCache("shop");
        var touched = new HashSet<ServiceKey>();
        cache.UpsertSlice(Slice("s-1", "web", addresses: ["10.1.0.1"]), touched);
        cache.UpsertSlice(Slice("s-1", "api", version: "2", addresses: ["10.1.0.1"]), touched);
        Assert.Equal(0, cache.Get("shop", "web").SliceCount);
        Assert.Equal(["s-1"], SliceNames(cache.Get("shop", "api")));

        touched.Clear();
        cache.UpsertSlice(Slice("s-1", null, version: "3"), touched);
        Assert.Equal(["shop/api"], Keys(touched));
        Assert.Equal(0, cache.Get("shop", "api").SliceCount);
        Assert.Empty(cache.GetAll());
    }

    [Fact]
    public void A_cluster_wide_cache_keeps_namespaces_apart_and_keeps_only_wanted_services()
    {
        var cache = new EndpointSliceCache(null, static (ns, name) => ns != "kube-system");
        var touched = new HashSet<ServiceKey>();
        cache.ListSlices([Slice("web-1", "web", "a"), Slice("web-1", "web", "b"), Slice("dns-1", "dns", "kube-system")], "5", touched);
        cache.ListServices([Svc("web", "a"), Svc("dns", "kube-system")], "5", touched);
        Assert.Equal(["web-1"], SliceNames(cache.Get("a", "web")));
        Assert.Equal(["web-1"], SliceNames(cache.Get("b", "web")));
        Assert.Equal(0, cache.Get("kube-system", "dns").SliceCount);
        Assert.False(cache.Get("kube-system", "dns").HasService);

        touched.Clear();
        cache.DeleteSlice(Slice("web-1", "web", "b"), touched);
        Assert.Equal(["b/web"], Keys(touched));
        Assert.Equal(["web-1"], SliceNames(cache.Get("a", "web")));
    }

    [Fact]
    public void A_deleted_Service_keeps_its_slices_until_they_go_too()
    {
        var cache = new EndpointSliceCache("shop");
        var touched = new HashSet<ServiceKey>();
        cache.UpsertService(Svc("web"), touched);
        cache.UpsertSlice(Slice("web-1", "web"), touched);
        cache.DeleteService(Svc("web"), touched);
        Assert.False(cache.Get("shop", "web").HasService);
        Assert.Equal(1, cache.Get("shop", "web").SliceCount);
        cache.DeleteSlice(Slice("web-1", "web"), touched);
        Assert.Empty(cache.GetAll());
    }

    [Fact]
    public void A_Service_port_maps_to_the_slice_port_with_its_name_and_protocol()
    {
        var cache = new EndpointSliceCache("shop");
        var touched = new HashSet<ServiceKey>();
        cache.UpsertService(Svc("dns", "shop",
            new ServicePort { Name = "dns", Port = 53, Protocol = "UDP" },
            new ServicePort { Name = "dns-tcp", Port = 53 }), touched);
        cache.UpsertSlice(Slice("dns-udp", "dns", protocol: "UDP", port: 5353, portName: "dns", addresses: ["10.1.0.1", "127.0.0.1"]), touched);
        cache.UpsertSlice(Slice("dns-tcp", "dns", protocol: "TCP", port: 5354, portName: "dns-tcp", addresses: ["10.1.0.2"]), touched);
        // A TCP slice port named like the UDP Service port does not serve it.
        cache.UpsertSlice(Slice("dns-wrong", "dns", protocol: "TCP", port: 9999, portName: "dns", addresses: ["10.1.0.9"]), touched);

        ServiceSlices dns = cache.Get("shop", "dns");
        KubernetesServiceInfo info = dns.ServiceInfo!;
        Assert.Equal(["10.96.0.10", "fd00::10"], info.ClusterIPs);
        Assert.Equal([("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")], info.Ports.Select(static p => (p.Name, p.Port, p.Protocol)));
        var dropped = new List<string>();
        IReadOnlyList<ClientEndpoint> udp = dns.MapEndpoints(info.Ports[0], dropped: (record, reason) => dropped.Add(record + ": " + reason));
        Assert.Equal(["10.1.0.1:5353"], udp.Select(static e => e.Authority));
        Assert.Contains(dropped, d => d.Contains("127.0.0.1", StringComparison.Ordinal) && d.Contains("dns-udp", StringComparison.Ordinal));
        Assert.Equal(["10.1.0.2:5354"], dns.MapEndpoints(info.Ports[1]).Select(static e => e.Authority));
    }

    [Fact]
    public void The_package_shows_its_internals_to_no_other_package()
    {
        // The agent and the CLI build on the public API (EndpointSliceWatch, ServiceSlices, NodeRelayPublisher); only
        // test, fuzz and benchmark assemblies may see internals.
        string[] friends = [.. typeof(EndpointSliceCache).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(static a => a.AssemblyName)];
        Assert.All(friends, static friend => Assert.True(friend.EndsWith(".Tests", StringComparison.Ordinal) || friend is "ClientLb.Fuzz" or "ClientLb.Benchmarks", friend));
    }
}
