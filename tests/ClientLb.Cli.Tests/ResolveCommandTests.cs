using System.Text.Json;
using ClientLb.Dns.Tests.Infrastructure;

namespace ClientLb.Cli.Tests;

/// <summary><c>clientlb resolve</c> run in-process against a real dnsmasq.</summary>
public sealed class ResolveCommandTests : IAsyncLifetime
{
    private const string Zone = "shop.svc.cluster.local";
    private Dnsmasq _dns = null!;

    public async Task InitializeAsync() => _dns = await Dnsmasq.StartAsync(
    [
        $"--host-record=web.{Zone},10.54.1.2",
        $"--host-record=web.{Zone},10.54.1.3",
        $"--srv-host=_grpc._tcp.api.{Zone},api-0.api.{Zone},9090,0,10",
        $"--srv-host=_grpc._tcp.api.{Zone},api-1.api.{Zone},9090,0,30",
        $"--host-record=api-0.api.{Zone},10.54.1.10",
        $"--host-record=api-1.api.{Zone},10.54.1.11",
        // Issue 15: the SRV name as DNS writes it, and answers a client must not use.
        "--srv-host=_http._tcp.payments.finance.svc.cluster.local,pay-0.payments.finance.svc.cluster.local,8080,0,10",
        "--srv-host=_http._tcp.payments.finance.svc.cluster.local,pay-1.payments.finance.svc.cluster.local,8081,0,20",
        "--host-record=pay-0.payments.finance.svc.cluster.local,10.54.2.1",
        "--host-record=pay-1.payments.finance.svc.cluster.local,10.54.2.2",
        $"--host-record=local.{Zone},127.54.1.20",
        $"--host-record=meta.{Zone},169.254.169.254",
        $"--host-record=meta.{Zone},10.54.1.30",
    ]);

    public async Task DisposeAsync() => await _dns.DisposeAsync();

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync([.. args, "--dns-server", _dns.Endpoint.ToString()], output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Headless_service_as_json()
    {
        (int code, string json, string err) = await RunAsync("resolve", "http://web.shop", "--source", "dns", "--output", "json");
        Assert.True(code == 0, err);
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        Assert.Equal("web.shop", root.GetProperty("service").GetString());
        Assert.Equal("dns", root.GetProperty("source").GetString());
        Assert.Equal(["10.54.1.2:80", "10.54.1.3:80"],
            root.GetProperty("endpoints").EnumerateArray().Select(e => $"{e.GetProperty("address").GetString()}:{e.GetProperty("port").GetInt32()}").Order());
        Assert.All(root.GetProperty("endpoints").EnumerateArray(), e => Assert.True(e.GetProperty("eligible").GetBoolean()));
        Assert.True(root.GetProperty("status").GetProperty("healthy").GetBoolean());
    }

    [Fact]
    public async Task Srv_named_port_gives_targets_ports_and_weights()
    {
        (int code, string json, string err) = await RunAsync("resolve", "api.shop:grpc", "--source", "dns", "-o", "json");
        Assert.True(code == 0, err);
        using JsonDocument doc = JsonDocument.Parse(json);
        var endpoints = doc.RootElement.GetProperty("endpoints").EnumerateArray()
            .Select(e => (e.GetProperty("address").GetString(), e.GetProperty("port").GetInt32(), e.GetProperty("weight").GetInt32())).Order().ToList();
        Assert.Equal([("10.54.1.10", 9090, 10), ("10.54.1.11", 9090, 30)], endpoints);
    }

    [Fact]
    public async Task The_literal_SRV_name_resolves_to_the_SRV_targets_with_their_ports()
    {
        (int code, string json, string err) = await RunAsync("resolve", "_http._tcp.payments.finance.svc.cluster.local", "--source", "dns", "-o", "json");
        Assert.True(code == 0, err);
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal("payments.finance:http", doc.RootElement.GetProperty("service").GetString());
        var endpoints = doc.RootElement.GetProperty("endpoints").EnumerateArray()
            .Select(e => (e.GetProperty("address").GetString(), e.GetProperty("port").GetInt32(), e.GetProperty("weight").GetInt32())).Order().ToList();
        Assert.Equal([("10.54.2.1", 8080, 10), ("10.54.2.2", 8081, 20)], endpoints);
    }

    [Fact]
    public async Task Loopback_and_metadata_answers_are_refused_unless_loopback_is_allowed()
    {
        (int code, string json, string err) = await RunAsync("resolve", "http://meta.shop", "--source", "dns", "-o", "json");
        Assert.True(code == 0, err);
        using (JsonDocument doc = JsonDocument.Parse(json))
        {
            Assert.Equal(["10.54.1.30"], doc.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetProperty("address").GetString()));
        }

        (code, _, err) = await RunAsync("resolve", "http://local.shop", "--source", "dns");
        Assert.Equal(1, code);
        Assert.Contains("127.54.1.20 is a loopback address", err);

        (code, json, err) = await RunAsync("resolve", "http://local.shop", "--source", "dns", "--allow-loopback", "-o", "json");
        Assert.True(code == 0, err);
        Assert.Contains("127.54.1.20", json);
    }

    [Fact]
    public async Task Text_output_is_a_table()
    {
        (int code, string text, string err) = await RunAsync("resolve", "web.shop", "--source", "dns", "--port", "8080");
        Assert.True(code == 0, err);
        Assert.Contains("10.54.1.2:8080", text);
        Assert.Contains("ELIGIBLE", text);
    }

    [Fact]
    public async Task An_unknown_service_fails_saying_why()
    {
        (int code, string text, string err) = await RunAsync("resolve", "nope.shop", "--source", "dns", "--port", "80");
        Assert.Equal(1, code);
        Assert.Equal("", text);
        Assert.Contains("NXDOMAIN", err);
        Assert.Contains("kubectl get svc nope -n shop", err);
    }

    [Theory]
    [InlineData("Bad_Name", "Invalid service name 'Bad_Name'")]
    [InlineData("web.shop", "no port, no http/https scheme")]
    public async Task Bad_input_is_named(string name, string message)
    {
        (int code, _, string err) = await RunAsync("resolve", name, "--source", "dns");
        Assert.Equal(1, code);
        Assert.Contains(message, err);
    }
}
