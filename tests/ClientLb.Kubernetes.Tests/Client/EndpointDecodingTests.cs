using System.Buffers;
using System.Text;
using System.Text.Json;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Tests.Client;

/// <summary>Issue 14: the endpoints of a slice event are read by hand from the UTF-8 tokens; the result is what the API sent.</summary>
public sealed class EndpointDecodingTests
{
    private const string Endpoints = """
        [{"addresses":["10.0.0.1","10.0.0.9"],"conditions":{"ready":true,"serving":true,"terminating":false},"hostname":"pod-a","nodeName":"node-1","zone":"zone-a",
          "targetRef":{"kind":"Pod","namespace":"shop","name":"pod-a","uid":"u-1"},"deprecatedTopology":{"k":"v"},"hints":{"forZones":[{"name":"zone-a"}],"forNodes":[{"name":"node-1"}]}},
         {"addresses":["10.0.0.2"],"conditions":{"ready":null,"serving":false},"nodeName":"node-1","zone":"zone-a"},
         {"addresses":["10.0.0.3"],"conditions":{},"nodeName":"node-\u0032","zone":null}]
        """;

    private static WatchEvent<EndpointSlice> Parse(string endpoints) =>
        KubernetesApiClient.ParseEvent(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(
            "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"s\",\"namespace\":\"shop\"},\"addressType\":\"IPv4\",\"endpoints\":" + endpoints.ReplaceLineEndings("") + ",\"ports\":[{\"name\":\"http\",\"port\":8080}]}}")),
            KubernetesJsonContext.Default.WatchEventEndpointSlice, "/p");

    [Fact]
    public void Every_field_the_source_reads_is_decoded_and_the_rest_is_skipped()
    {
        List<Model.Endpoint> endpoints = Parse(Endpoints).Object!.Endpoints!;

        Assert.Equal(3, endpoints.Count);
        Model.Endpoint first = endpoints[0];
        Assert.Equal("10.0.0.1", first.Address);
        Assert.Equal(["10.0.0.9"], first.OtherAddresses!);
        Assert.Null(endpoints[1].OtherAddresses);
        Assert.Equal((true, true, false), (first.Conditions!.Ready, first.Conditions.Serving, first.Conditions.Terminating));
        Assert.Equal(("pod-a", "node-1", "zone-a"), (first.Hostname, first.NodeName, first.Zone));
        Assert.Equal(["zone-a"], first.ZoneHintNames()!);
        Assert.Equal(["node-1"], first.NodeHintNames()!);
        Assert.Equal((null, false, null), (endpoints[1].Conditions!.Ready, endpoints[1].Conditions!.Serving, endpoints[1].Conditions!.Terminating));
        Assert.Null(endpoints[1].Hints);
        Assert.Equal(("node-2", null), (endpoints[2].NodeName, endpoints[2].Zone)); // an escaped name is unescaped
    }

    [Fact]
    public void Node_and_zone_names_are_one_string_across_endpoints_and_events()
    {
        List<Model.Endpoint> once = Parse(Endpoints).Object!.Endpoints!;
        List<Model.Endpoint> again = Parse(Endpoints).Object!.Endpoints!;

        Assert.Same(once[0].NodeName, once[1].NodeName);
        Assert.Same(once[0].Zone, again[1].Zone);
        Assert.Same(once[0].NodeName, again[0].NodeName);
    }

    [Theory]
    [InlineData("""[{"addresses":"10.0.0.1"}]""", "addresses")]
    [InlineData("""[{"addresses":["10.0.0.1"],"conditions":{"ready":"yes"}}]""", "conditions.ready")]
    [InlineData("""[{"addresses":["10.0.0.1"],"conditions":[]}]""", "conditions")]
    [InlineData("""[{"addresses":["10.0.0.1"],"nodeName":5}]""", "nodeName")]
    [InlineData("""[{"addresses":[7]}]""", "an address")]
    [InlineData("""[{"addresses":["10.0.0.1"],"zone":{}}]""", "zone")]
    [InlineData("""["10.0.0.1"]""", "an endpoint")]
    public void A_value_of_the_wrong_type_makes_the_event_poison_naming_the_field(string endpoints, string field)
    {
        WatchEvent<EndpointSlice> e = Parse(endpoints);

        Assert.Null(e.Object);
        Assert.Equal("shop/s", e.Poison!.Name);
        Assert.Contains(field, e.Poison.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_addresses_and_null_endpoints_are_kept_for_the_poison_check()
    {
        List<Model.Endpoint> endpoints = Parse("""[{"addresses":null},null,{"addresses":["10.0.0.1",null]},{"addresses":[]}]""").Object!.Endpoints!;

        Assert.Equal("has addresses: null", endpoints[0].AddressProblem);
        Assert.Null(endpoints[1]);
        Assert.Equal("has a null address", endpoints[2].AddressProblem);
        Assert.Null(endpoints[3].Address); // no address: mapped as "the endpoint has no address", not poison
        Assert.Null(endpoints[3].AddressProblem);
    }

    [Fact]
    public void A_slice_written_and_read_back_is_the_same()
    {
        EndpointSlice slice = Parse(Endpoints).Object!;

        string written = JsonSerializer.Serialize(slice, KubernetesJsonContext.Default.EndpointSlice);
        EndpointSlice read = JsonSerializer.Deserialize(written, KubernetesJsonContext.Default.EndpointSlice)!;

        Assert.Equal(written, JsonSerializer.Serialize(read, KubernetesJsonContext.Default.EndpointSlice));
        Assert.Contains("\"hints\":{\"forZones\":[{\"name\":\"zone-a\"}],\"forNodes\":[{\"name\":\"node-1\"}]}", written, StringComparison.Ordinal);
        Assert.DoesNotContain("targetRef", written, StringComparison.Ordinal);
        Assert.DoesNotContain("\"zone\":null", written, StringComparison.Ordinal);
    }
}
