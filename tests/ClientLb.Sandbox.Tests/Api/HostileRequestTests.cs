using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Api;

/// <summary>Issue 15, defect 7: the sandbox's kubeconfig, body limit and IP / port-name rules as the real API server has them.</summary>
public class HostileRequestTests
{
    private const string Slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";

    private static JsonObject Slice(string name, string addressType, string address, string? portName = "http") => new()
    {
        ["apiVersion"] = "discovery.k8s.io/v1",
        ["kind"] = "EndpointSlice",
        ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = "web" } },
        ["addressType"] = addressType,
        ["endpoints"] = new JsonArray(new JsonObject { ["addresses"] = new JsonArray(address) }),
        ["ports"] = new JsonArray(new JsonObject { ["name"] = portName, ["port"] = 8080, ["protocol"] = "TCP" }),
    };

    [Fact]
    public async Task The_kubeconfig_holding_the_bearer_token_is_readable_by_its_owner_only()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { BearerToken = "secret-token" });
        Assert.Contains("secret-token", await File.ReadAllTextAsync(cluster.KubeconfigPath));
        if (!OperatingSystem.IsLinux())
        {
            Assert.Fail("the file mode is checked on Linux");
            return;
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cluster.KubeconfigPath));
    }

    [Theory]
    [InlineData(4 * 1024 * 1024)]   // over the API server's 3 MB limit
    [InlineData(31 * 1024 * 1024)]  // over Kestrel's own 30 MB limit too: this one got 500
    public async Task A_body_over_the_limit_gets_413_as_a_Status(int size)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using HttpClient http = cluster.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/namespaces/default/services")
        {
            Content = new ByteArrayContent(Encoding.ASCII.GetBytes("{\"a\":\"" + new string('x', size) + "\"}")),
        };
        request.Content.Headers.ContentType = new("application/json");
        // As kubectl's Go client does for large bodies: the server may refuse before the body is sent.
        request.Headers.ExpectContinue = true;

        using HttpResponseMessage response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        JsonObject status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(("Status", "RequestEntityTooLarge"), (status["kind"]!.GetValue<string>(), status["reason"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("IPv4", "010.0.0.1", "must be in canonical form (\"8.0.0.1\")")]
    [InlineData("IPv4", "10.1", "must be in canonical form (\"10.0.0.1\")")]
    [InlineData("IPv4", "0x0a000001", "must be in canonical form (\"10.0.0.1\")")]
    [InlineData("IPv4", "10.0.0.256", "must be a valid IP address")]
    [InlineData("IPv6", "2001:DB8::1", "must be in canonical form (\"2001:db8::1\")")]
    [InlineData("IPv6", "2001:db8:0:0:0:0:0:1", "must be in canonical form (\"2001:db8::1\")")]
    [InlineData("IPv6", "::ffff:10.0.0.1", "must be a valid IP address")]
    [InlineData("IPv4", "fd00::1", "must be an IPv4 address")]
    public async Task A_non_canonical_endpoint_address_is_422_naming_the_field(string type, string address, string message)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());

        (HttpStatusCode code, JsonObject? body) = await api.PostAsync(Slices, Slice("web-x", type, address));

        Assert.True(code == (HttpStatusCode)422, body.ToJsonString());
        JsonNode? cause = Assert.Single(body.Arr("details", "causes"));
        Assert.Equal("endpoints[0].addresses[0]", cause.S("field"));
        Assert.Contains(message, cause.S("message"));
    }

    [Fact]
    public async Task Port_names_and_cluster_IPs_follow_the_API_servers_rules()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());

        (HttpStatusCode code, JsonObject? body) = await api.PostAsync(Slices, Slice("web-y", "IPv4", "10.0.0.1", "Http_Port"));
        Assert.Equal((HttpStatusCode)422, code);
        Assert.Equal("ports[0].name", Assert.Single(body.Arr("details", "causes")).S("field"));

        JsonObject service = ApiClient.Service("web", clusterIP: "127.096.0.10");
        (code, body) = await api.PostAsync("/api/v1/namespaces/default/services", service);
        Assert.Equal((HttpStatusCode)422, code);
        Assert.Contains(body.Arr("details", "causes"), c => c.S("field") == "spec.clusterIPs[0]" && c.S("message")!.Contains("must be a valid IP address", StringComparison.Ordinal));

        service = ApiClient.Service("web2");
        service["spec"]!["ports"]![0]!["targetPort"] = "ht--tp";
        (code, body) = await api.PostAsync("/api/v1/namespaces/default/services", service);
        Assert.Equal((HttpStatusCode)422, code);
        Assert.Contains(body.Arr("details", "causes"), c => c.S("field") == "spec.ports[0].targetPort" && c.S("message")!.Contains("consecutive hyphens", StringComparison.Ordinal));
    }
}
