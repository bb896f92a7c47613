using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Manifests;
using ClientLb.Sandbox.Store;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Store;

public class PatchAndYamlTests
{
    [Fact]
    public void Merge_patch_merges_objects_deletes_nulls_and_replaces_lists()
    {
        JsonObject target = JsonNode.Parse("""{"a":{"b":1,"c":2},"l":[1,2],"k":"v"}""")!.AsObject();
        JsonObject result = Patches.Apply(target, Encoding.UTF8.GetBytes("""{"a":{"c":null,"d":3},"l":[9]}"""), "application/merge-patch+json");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a":{"b":1,"d":3},"l":[9],"k":"v"}"""), result));
    }

    [Fact]
    public void Json_patch_applies_operations_in_order_and_test_failure_is_422()
    {
        JsonObject target = JsonNode.Parse("""{"spec":{"replicas":1,"ports":[{"port":80}]}}""")!.AsObject();
        string ops = """[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/spec/ports/-","value":{"port":81}},{"op":"add","path":"/metadata","value":{"labels":{"a/b":"c"}}},{"op":"remove","path":"/spec/ports/0"}]""";
        JsonObject result = Patches.Apply(target, Encoding.UTF8.GetBytes(ops), "application/json-patch+json");
        Assert.Equal(3, result.L("spec", "replicas"));
        Assert.Equal(81, result.L("spec", "ports", "0", "port"));
        Assert.Equal("c", result.S("metadata", "labels", "a/b"));
        ApiException ex = Assert.Throws<ApiException>(() => Patches.Apply(result, Encoding.UTF8.GetBytes("""[{"op":"test","path":"/spec/replicas","value":4}]"""), "application/json-patch+json"));
        Assert.Equal(422, ex.Code);
    }

    [Fact]
    public void Unknown_patch_types_are_415()
    {
        ApiException ex = Assert.Throws<ApiException>(() => Patches.Apply(new JsonObject(), "{}"u8.ToArray(), "text/plain"));
        Assert.Equal(415, ex.Code);
        Assert.Contains("text/plain", ex.Message);
    }

    [Fact]
    public void Yaml_manifest_keeps_quoted_numbers_as_strings_and_splits_documents()
    {
        List<JsonObject> docs = YamlManifest.Parse("""
            apiVersion: v1
            kind: Service
            metadata: {name: a, annotations: {port: "80"}}
            spec:
              ports: [{port: 80, targetPort: http}]
              publishNotReadyAddresses: true
            ---
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: b
            """);
        Assert.Equal(2, docs.Count);
        Assert.Equal("80", docs[0].S("metadata", "annotations", "port"));
        Assert.Equal(80, docs[0].L("spec", "ports", "0", "port"));
        Assert.Equal("http", docs[0].S("spec", "ports", "0", "targetPort"));
        Assert.True(docs[0].At("spec", "publishNotReadyAddresses")!.GetValue<bool>());
        Assert.Equal("b", docs[1].S("metadata", "name"));
        FormatException bad = Assert.Throws<FormatException>(() => YamlManifest.Parse("a: [1"));
        Assert.Contains("not valid YAML", bad.Message);
    }

    [Fact]
    public void Address_ranges_must_stay_on_loopback()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => new IpAllocator("10.96.0.0/16", "ServiceCidr"));
        Assert.Contains("ServiceCidr", ex.Message);
        Assert.Contains("127.0.0.0/8", ex.Message);
        var opts = new SandboxOptions { PodCidr = "127.96.128.0/17" };
        Assert.Contains("overlaps", Assert.Throws<ArgumentException>(opts.Validate).Message);
        var alloc = new IpAllocator("127.50.0.0/30", "test");
        Assert.Equal("127.50.0.1", alloc.Allocate());
        Assert.Equal("127.50.0.2", alloc.Allocate());
        Assert.Null(alloc.Allocate()); // .0 and .3 are network and broadcast
        alloc.Release("127.50.0.1");
        Assert.Equal("127.50.0.1", alloc.Allocate());
    }

    [Fact]
    public void A_process_hands_out_no_address_of_a_block_that_a_sandbox_in_another_process_holds()
    {
        // Another sandbox process (a parallel test run) holds 127.51.0.0/24 by its abstract socket, as this process would.
        using Socket otherProcess = UnixSocket();
        otherProcess.Bind(new UnixDomainSocketEndPoint(IpAllocator.BlockClaimName(127u << 24 | 51u << 16)));
        var alloc = new IpAllocator("127.51.0.0/23", "PodCidr", processWide: true);
        List<string> addresses = [.. Enumerable.Range(0, 300).Select(_ => alloc.Allocate()).TakeWhile(a => a is not null).Select(a => a!)];
        Assert.Equal(255, addresses.Count); // 127.51.1.0 to .254 (.255 is the range's broadcast address)
        Assert.All(addresses, a => Assert.StartsWith("127.51.1.", a));
        Assert.True(alloc.Reserve("127.51.0.9"), "an address asked for by name is the user's choice");

        // Its last address released, the block is free for other processes again.
        string blockOne = IpAllocator.BlockClaimName(127u << 24 | 51u << 16 | 1u << 8);
        using Socket probe = UnixSocket();
        Assert.Throws<SocketException>(() => probe.Bind(new UnixDomainSocketEndPoint(blockOne)));
        addresses.ForEach(alloc.Release);
        alloc.Release("127.51.0.9");
        using Socket after = UnixSocket();
        after.Bind(new UnixDomainSocketEndPoint(blockOne));
    }

    private static Socket UnixSocket() => new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
}
