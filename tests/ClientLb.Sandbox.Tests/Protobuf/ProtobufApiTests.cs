using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Api.Protobuf;
using ClientLb.Sandbox.Tests.Infrastructure;
using Google.Protobuf;
using K8S.Io.Apimachinery.Pkg.Apis.Meta.V1;

namespace ClientLb.Sandbox.Tests.Protobuf;

/// <summary>application/vnd.kubernetes.protobuf over HTTP: bodies in, answers and watch frames out, refusals as Status.</summary>
public class ProtobufApiTests
{
    private const string Protobuf = "application/vnd.kubernetes.protobuf";

    private static async Task<(HttpStatusCode Code, string? ContentType, byte[] Body)> SendAsync(HttpClient http, HttpMethod method, string path, byte[]? body, string? accept)
    {
        using var req = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            req.Content = new ByteArrayContent(body);
            req.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(Protobuf);
        }
        if (accept is not null)
        {
            req.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using HttpResponseMessage resp = await http.SendAsync(req);
        return (resp.StatusCode, resp.Content.Headers.ContentType?.ToString(), await resp.Content.ReadAsByteArrayAsync());
    }

    private static JsonObject Service(string name)
    {
        JsonObject o = JsonNode.Parse("""
            {"kind":"Service","apiVersion":"v1","metadata":{},"spec":{"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"web"}}}
            """)!.AsObject();
        o["metadata"]!["name"] = name;
        return o;
    }

    [Fact]
    public async Task Create_get_list_and_delete_in_protobuf_match_the_json_answers()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        HttpClient http = api.Http;

        (HttpStatusCode Code, string? ContentType, byte[] Body) created = await SendAsync(http, HttpMethod.Post, "/api/v1/namespaces/default/services", KubeProtobuf.Encode(Service("pb")), $"{Protobuf}, application/json");
        Assert.Equal(HttpStatusCode.Created, created.Code);
        Assert.Equal(Protobuf, created.ContentType);
        JsonObject createdJson = KubeProtobuf.Decode(created.Body, "response");
        Assert.StartsWith("127.96.", createdJson.S("spec", "clusterIP"));
        Assert.Equal(8080, createdJson.L("spec", "ports", "0", "targetPort"));

        (HttpStatusCode Code, string? ContentType, byte[] Body) got = await SendAsync(http, HttpMethod.Get, "/api/v1/namespaces/default/services/pb", null, Protobuf);
        JsonObject json = (await api.GetAsync("/api/v1/namespaces/default/services/pb")).Body;
        Assert.True(JsonNode.DeepEquals(json, KubeProtobuf.Decode(got.Body, "get")));

        JsonObject list = KubeProtobuf.Decode((await SendAsync(http, HttpMethod.Get, "/api/v1/namespaces/default/services", null, Protobuf)).Body, "list");
        Assert.Equal("ServiceList", list.S("kind"));
        Assert.Equal(["pb"], list.Arr("items").Select(i => i.S("metadata", "name")));

        JsonObject partial = KubeProtobuf.Decode((await SendAsync(http, HttpMethod.Get, "/api/v1/namespaces/default/services", null, $"{Protobuf};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")).Body, "partial list");
        Assert.Equal("PartialObjectMetadataList", partial.S("kind"));
        Assert.Equal("pb", partial.S("items", "0", "metadata", "name"));

        // Table has no protobuf encoding upstream: the next acceptable type (JSON) answers.
        (HttpStatusCode Code, string? ContentType, byte[] Body) table = await SendAsync(http, HttpMethod.Get, "/api/v1/namespaces/default/services", null, $"{Protobuf};as=Table;g=meta.k8s.io;v=v1,application/json;as=Table;g=meta.k8s.io;v=v1");
        Assert.Equal("application/json", table.ContentType);
        Assert.Equal("Table", JsonNode.Parse(table.Body).S("kind"));

        (HttpStatusCode Code, string? ContentType, byte[] Body) missing = await SendAsync(http, HttpMethod.Get, "/api/v1/namespaces/default/services/nope", null, $"{Protobuf}, application/json");
        Assert.Equal(HttpStatusCode.NotFound, missing.Code);
        JsonObject status = KubeProtobuf.Decode(missing.Body, "status");
        Assert.Equal(("Status", "NotFound", 404L), (status.S("kind"), status.S("reason"), status.L("code")));

        byte[] deleteOptions = KubeProtobuf.Encode(JsonNode.Parse("""{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"wrong"}}""")!.AsObject());
        (HttpStatusCode Code, string? ContentType, byte[] Body) conflict = await SendAsync(http, HttpMethod.Delete, "/api/v1/namespaces/default/services/pb", deleteOptions, "application/json");
        Assert.Equal(HttpStatusCode.Conflict, conflict.Code);
        Assert.Contains("wrong", JsonNode.Parse(conflict.Body).S("message"));
    }

    [Fact]
    public async Task Scale_subresource_and_watch_speak_protobuf()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        await cluster.CreateDeploymentAsync("web", 1);
        JsonObject scale = KubeProtobuf.Decode((await SendAsync(api.Http, HttpMethod.Get, "/apis/apps/v1/namespaces/default/deployments/web/scale", null, Protobuf)).Body, "scale");
        Assert.Equal(("Scale", "autoscaling/v1", 1L), (scale.S("kind"), scale.S("apiVersion"), scale.L("spec", "replicas")));

        using var watchRequest = new HttpRequestMessage(HttpMethod.Get, "/apis/apps/v1/namespaces/default/deployments?watch=true");
        watchRequest.Headers.TryAddWithoutValidation("Accept", Protobuf);
        using HttpResponseMessage watch = await api.Http.SendAsync(watchRequest, HttpCompletionOption.ResponseHeadersRead, Deadline.In());
        Assert.Equal(Protobuf, watch.Content.Headers.ContentType?.MediaType);
        Assert.Equal("watch", watch.Content.Headers.ContentType?.Parameters.Single(p => p.Name == "stream").Value);
        await using Stream stream = await watch.Content.ReadAsStreamAsync(Deadline.In());
        (string? type, JsonObject? obj) = await ReadFrameAsync(stream);
        Assert.Equal(("ADDED", "web"), (type, obj.S("metadata", "name")));

        scale["spec"]!["replicas"] = 3;
        scale["metadata"]!.AsObject().Remove("resourceVersion"); // the controller writes status meanwhile; no precondition

        (HttpStatusCode Code, string? ContentType, byte[] Body) put = await SendAsync(api.Http, HttpMethod.Put, "/apis/apps/v1/namespaces/default/deployments/web/scale", KubeProtobuf.Encode(scale), Protobuf);
        Assert.Equal(HttpStatusCode.OK, put.Code);
        Assert.Equal(3, KubeProtobuf.Decode(put.Body, "scale").L("spec", "replicas"));
        do
        {
            (type, obj) = await ReadFrameAsync(stream);
        }
        while (obj.L("spec", "replicas") != 3);
        Assert.Equal("MODIFIED", type);
        Assert.Equal("Deployment", obj.S("kind"));
    }

    private static async Task<(string Type, JsonObject Object)> ReadFrameAsync(Stream stream)
    {
        byte[] length = new byte[4];
        await stream.ReadExactlyAsync(length, Deadline.In());
        byte[] frame = new byte[BinaryPrimitives.ReadUInt32BigEndian(length)];
        await stream.ReadExactlyAsync(frame, Deadline.In());
        WatchEvent e = K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.WatchEvent.Parser.ParseFrom(frame);
        return (e.Type, KubeProtobuf.Decode(e.Object.Raw.Span, "watch event"));
    }

    public static TheoryData<string, byte[], string> BadBodies => new()
    {
        { "no envelope prefix", "{\"kind\":\"Service\"}"u8.ToArray(), "does not start with the \"k8s\\0\" envelope prefix" },
        { "prefix only", "k8s\0"u8.ToArray(), "the protobuf envelope is empty" },
        { "truncated envelope", [.. "k8s\0"u8, 0x0a, 0x20, 0x0a], "the protobuf envelope (runtime.Unknown) is malformed" },
        { "no kind", ProtobufRoundTripTests.Envelope("v1", "", []), "Object 'Kind' is missing" },
        { "unknown kind", ProtobufRoundTripTests.Envelope("v1", "Gadget", []), "no kind \"Gadget\" is registered for version \"v1\"" },
        { "truncated message", ProtobufRoundTripTests.Envelope("v1", "Service", [0x0a, 0x05, 0x0a]), "the Service message (k8s.io.api.core.v1.Service) is malformed" },
        { "bad IntOrString", ProtobufRoundTripTests.Envelope("v1", "Service", new K8S.Io.Api.Core.V1.Service
            {
                Metadata = new() { Name = "x" },
                Spec = new() { Ports = { new K8S.Io.Api.Core.V1.ServicePort { Port = 80, TargetPort = new() { Type = 7 } } } },
            }.ToByteArray()), "spec.ports[0].targetPort: IntOrString type 7 is neither 0 (int) nor 1 (string)" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_protobuf_body_is_a_400_Status_naming_the_fault(string _, byte[] body, string expected)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        (HttpStatusCode code, string? contentType, byte[]? response) = await SendAsync(api.Http, HttpMethod.Post, "/api/v1/namespaces/default/services", body, null);
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("application/json", contentType);
        JsonNode status = JsonNode.Parse(response)!;
        Assert.Equal(("Status", "BadRequest"), (status.S("kind"), status.S("reason")));
        Assert.Contains(expected, status.S("message"));
        Assert.Empty(await cluster.ListAsync("v1", "Service"));
    }
}
