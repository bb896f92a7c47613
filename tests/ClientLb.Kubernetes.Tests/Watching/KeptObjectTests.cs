using System.Text.Json;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Watching;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Kubernetes.Tests.Watching;

/// <summary>
/// Issues 14 and 18 (per-service memory): what a watch keeps of each Service and slice holds its repeated strings once
/// and only the labels ClientLb reads, and still reads the same. Alone (no other test decodes meanwhile): the decoder's
/// name table is shared by the process, and another test's names could take a slot between two decodes here.
/// </summary>
[Collection(nameof(KeptObjectTests))]
public sealed class KeptObjectTests
{
    private static EndpointSlice Slice(string service, string name, string? managedBy = null)
    {
        string managed = managedBy is null ? "" : ",\"endpointslice.kubernetes.io/managed-by\":\"" + managedBy + "\"";
        string json = $$$"""{"metadata":{"name":"{{{name}}}","namespace":"shop","labels":{"app":"x","kubernetes.io/service-name":"{{{service}}}"{{{managed}}}}},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"]}],"ports":[{"name":"http","port":8080,"protocol":"TCP","appProtocol":"kubernetes.io/h2c"}]}""";
        return JsonSerializer.Deserialize(json, KubernetesJsonContext.Default.EndpointSlice)!;
    }

    private static Service Service(string name, string clusterIPs) => JsonSerializer.Deserialize(
        $$$"""{"metadata":{"name":"{{{name}}}","namespace":"shop"},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.1","clusterIPs":[{{{clusterIPs}}}],"sessionAffinity":"None","ports":[{"name":"http","port":80,"protocol":"TCP"}]}}""",
        KubernetesJsonContext.Default.Service)!;

    [Fact]
    public void Repeated_names_decode_to_one_string_each()
    {
        EndpointSlice a = Slice("pay", "pay-1"), b = Slice("cart", "cart-1");
        Service s = Service("pay", "\"10.96.0.1\""), t = Service("cart", "\"10.96.0.2\"");

        Assert.Equal("shop", a.Metadata.Namespace);
        Assert.Same(a.Metadata.Namespace, b.Metadata.Namespace);
        Assert.Same(a.Metadata.Namespace, s.Metadata.Namespace);
        Assert.Same(a.AddressType, b.AddressType);
        Assert.Same(a.Ports![0].Name, b.Ports![0].Name);
        Assert.Same(a.Ports[0].Name, s.Spec.Ports![0].Name);
        Assert.Same(a.Ports[0].Protocol, t.Spec.Ports![0].Protocol);
        Assert.Same(a.Ports[0].AppProtocol, b.Ports[0].AppProtocol);
        Assert.Same(s.Spec.Type, t.Spec.Type);
        Assert.Same(s.Spec.SessionAffinity, t.Spec.SessionAffinity);
        Assert.Equal(("IPv4", "http", "TCP", "kubernetes.io/h2c", "ClusterIP", "None"),
            (a.AddressType, a.Ports[0].Name, a.Ports[0].Protocol, a.Ports[0].AppProtocol, s.Spec.Type, s.Spec.SessionAffinity));
    }

    [Fact]
    public void A_shared_name_of_the_wrong_json_type_fails_the_decode()
    {
        // As any other undecodable object: the watch skips it as poison.
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"metadata":{"name":"a","namespace":5}}""", KubernetesJsonContext.Default.Service));
        Assert.Null(JsonSerializer.Deserialize("""{"metadata":{"name":"a","namespace":null}}""", KubernetesJsonContext.Default.Service)!.Metadata.Namespace);
    }

    [Fact]
    public void A_kept_slice_keeps_the_two_labels_ClientLb_reads_without_the_dictionary()
    {
        EndpointSlice slice = Slice("pay", "pay-1", "endpointslice-controller.k8s.io");
        Assert.Equal("pay", slice.Metadata.ServiceNameLabel); // read from the dictionary before it is kept
        Assert.Equal("endpointslice-controller.k8s.io", slice.Metadata.ManagedByLabel);

        string shared = new("pay".ToCharArray());
        slice.Compact(new Dictionary<string, string>(), shared);

        Assert.Same(shared, slice.Metadata.ServiceNameLabel);
        Assert.Equal("endpointslice-controller.k8s.io", slice.Metadata.ManagedByLabel);
        var kept = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "pay", ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io" };
        Assert.Equal(kept, slice.Metadata.Labels); // the two ClientLb reads, without "app"

        // Serialized (the node relay sends kept slices to the SDKs on its node), the two labels are still there.
        EndpointSlice relayed = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(slice, KubernetesJsonContext.Default.EndpointSlice),
            KubernetesJsonContext.Default.EndpointSlice)!;
        Assert.Equal(kept, relayed.Metadata.Labels);
        Assert.Equal("endpointslice-controller.k8s.io", relayed.Metadata.ManagedByLabel);

        EndpointSlice other = Slice("cart", "cart-1");
        other.Compact(new Dictionary<string, string>(), "not-its-name");
        Assert.Equal("cart", other.Metadata.ServiceNameLabel); // a name that is not the label's value is not taken
        Assert.Null(other.Metadata.ManagedByLabel);

        // Labels set afterwards (an object built by hand) are read again.
        other.Metadata.Labels = new() { ["kubernetes.io/service-name"] = "web" };
        Assert.Equal("web", other.Metadata.ServiceNameLabel);
    }

    [Fact]
    public void A_kept_service_drops_cluster_ips_that_only_repeat_its_cluster_ip()
    {
        Service single = Service("pay", "\"10.96.0.1\"");
        string name = new("pay".ToCharArray());
        single.Compact(name);
        Assert.Null(single.Spec.ClusterIPs);
        Assert.Equal("10.96.0.1", single.Spec.ClusterIP);
        Assert.Same(name, single.Metadata.Name);

        Service dual = Service("pay", "\"10.96.0.1\",\"fd00::1\"");
        dual.Compact("pay");
        Assert.Equal(["10.96.0.1", "fd00::1"], dual.Spec.ClusterIPs);

        Service other = Service("pay", "\"10.96.0.9\"");
        other.Compact("pay");
        Assert.Equal(["10.96.0.9"], other.Spec.ClusterIPs);
    }

    [Fact]
    public async Task A_sources_description_is_made_when_asked_for_and_reads_as_it_did()
    {
        await using var source = new KubernetesEndpointSource(ServiceName.Parse("http://pay.shop"), new NamedProvider(), null, null, TimeProvider.System,
            NullLogger.Instance);
        Assert.Equal("kubernetes endpointslices shop/pay via https://10.0.0.1:6443", source.Description);
        Assert.NotSame(source.Description, source.Description); // built per call, not kept per service
    }

    private sealed class NamedProvider : IServiceViewProvider
    {
        public string Description => "https://10.0.0.1:6443";

        public ViewLease Acquire(string ns, string service) => throw new NotSupportedException("not started in this test");

        public void Release(ServiceView view) => throw new NotSupportedException("not started in this test");
    }
}

[CollectionDefinition(nameof(KeptObjectTests), DisableParallelization = true)]
public sealed class KeptObjectTestsCollection;
