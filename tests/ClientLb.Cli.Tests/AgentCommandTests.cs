using System.Text.Json.Nodes;
using ClientLb.Sandbox;

namespace ClientLb.Cli.Tests;

/// <summary><c>clientlb agent</c> against the sandbox's API server, in dry-run mode (no root, the kernel untouched).</summary>
public sealed class AgentCommandTests : IAsyncLifetime
{
    private SandboxCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await SandboxCluster.StartAsync(new SandboxOptions());
        await _cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata: { name: x, namespace: default }
            spec:
              ports:
              - { name: http, port: 80 }
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: { name: x-1, namespace: default, labels: { kubernetes.io/service-name: x } }
            addressType: IPv4
            ports:
            - { name: http, port: 8080 }
            endpoints:
            - { addresses: [10.231.0.11], conditions: { ready: true } }
            - { addresses: [10.231.0.12], conditions: { ready: true } }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: other, namespace: default }
            spec:
              ports:
              - { port: 81 }
            """);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Once_dry_run_prints_the_ruleset_and_the_service_with_its_vip_and_endpoints()
    {
        JsonObject service = (await _cluster.GetAsync("v1", "Service", "x"))!;
        string vip = service["spec"]!["clusterIP"]!.GetValue<string>();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["agent", "--once", "--dry-run", "--kubeconfig", _cluster.KubeconfigPath, "--mode", "sidecar", "--service", "default/x"], output, error);
        string text = output.ToString();
        Assert.True(code == 0, error.ToString());
        Assert.Contains("# transaction\nadd table ip clientlb\n", text, StringComparison.Ordinal);
        Assert.Contains($"# service default/x: {vip}; tcp 80 -> 10.231.0.11:8080 10.231.0.12:8080", text, StringComparison.Ordinal);
        Assert.Contains("# sync: 1 service(s) sent", text, StringComparison.Ordinal);
        Assert.DoesNotContain("default/other", text, StringComparison.Ordinal);
        // The sandbox allocates cluster IPs from 127.96.0.0/16: sidecar mode programs them, with route_localnet first.
        Assert.DoesNotContain("rejected", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("# sysctl net.ipv4.conf.all.route_localnet=1\n# transaction\n", text, StringComparison.Ordinal);
        Assert.Contains($"{vip} . tcp . 80 . 0 : 10.231.0.11 . 8080", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--mode", "sidecar" }, "--service")]
    [InlineData(new[] { "--mode", "node", "--service", "default/x" }, "--service")]
    [InlineData(new[] { "--mode", "sidecar", "--service", "default" }, "--service")]
    [InlineData(new[] { "--mode", "sidecar", "--service", "default/x", "--namespace", "default" }, "--namespace")]
    [InlineData(new[] { "--mode", "node", "--namespace", "Not_A_Label" }, "--namespace")]
    [InlineData(new[] { "--mode", "node", "--metrics-port", "70000" }, "--metrics-port")]
    [InlineData(new[] { "--mode", "node", "--metrics-port", "9464", "--metrics-address", "localhost" }, "--metrics-address")]
    [InlineData(new[] { "--mode", "node", "--netns", "../etc" }, "--netns")]
    [InlineData(new[] { "--mode", "node", "--kubeconfig", "/nonexistent/kubeconfig" }, "--kubeconfig")]
    [InlineData(new[] { "--mode", "node", "--relay-socket", "/tmp/clientlb-relay-never.sock" }, "--relay-socket")]
    [InlineData(new[] { "--mode", "sidecar", "--service", "default/x", "--relay-socket", "/tmp/clientlb-relay-never.sock" }, "--relay-socket")]
    public async Task Errors_name_the_option_at_fault(string[] args, string option)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["agent", "--once", "--dry-run", .. args], output, error);
        Assert.Equal(1, code);
        Assert.StartsWith("clientlb agent: " + option, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_socket_serves_the_node_relay_until_the_agent_stops()
    {
        string dir = Directory.CreateTempSubdirectory("clientlb-cli-relay-").FullName;
        string socket = Path.Combine(dir, "run", "relay.sock");
        var output = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Task<int> run = CliApp.RunAsync(["agent", "--dry-run", "--kubeconfig", _cluster.KubeconfigPath, "--mode", "node", "--namespace", "default", "--relay-socket", socket],
            TextWriter.Synchronized(output), TextWriter.Synchronized(new StringWriter()), stop.Token);
        while (!output.ToString().Contains("serving the node relay on unix:" + socket, StringComparison.Ordinal))
        {
            Assert.False(run.IsCompleted, "the agent ended: " + output);
            await Task.Delay(20, stop.Token);
        }
        using (var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            await client.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socket), stop.Token);
        }
        await stop.CancelAsync();
        Assert.Equal(0, await run);
        Assert.False(File.Exists(socket), "the socket file stays after the agent stopped");
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Metrics_listener_serves_healthz_and_metrics_on_loopback()
    {
        int port = FreePort();
        var output = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Task<int> run = CliApp.RunAsync(["agent", "--dry-run", "--kubeconfig", _cluster.KubeconfigPath, "--mode", "node", "--namespace", "default", "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            TextWriter.Synchronized(output), TextWriter.Synchronized(new StringWriter()), stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        HttpResponseMessage health = await PollAsync(http, "healthz", stop.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        string metrics = await http.GetStringAsync("metrics", stop.Token);
        Assert.Contains("clientlb_agent_last_sync_success_timestamp_seconds", metrics, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("other", stop.Token)).StatusCode);
        await stop.CancelAsync();
        Assert.Equal(0, await run);
    }

    [Fact]
    public async Task Metrics_listener_on_all_addresses_for_a_sidecar_probe()
    {
        int port = FreePort();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var output = new StringWriter();
        Task<int> run = CliApp.RunAsync(["agent", "--dry-run", "--kubeconfig", _cluster.KubeconfigPath, "--mode", "node", "--namespace", "default",
            "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--metrics-address", "0.0.0.0"],
            TextWriter.Synchronized(output), TextWriter.Synchronized(new StringWriter()), stop.Token);
        // Reached on another local address than 127.0.0.1, as a kubelet reaches a pod IP.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.3:{port}/") };
        Assert.Equal(System.Net.HttpStatusCode.OK, (await PollAsync(http, "healthz", stop.Token)).StatusCode);
        await stop.CancelAsync();
        Assert.Equal(0, await run);
        Assert.Contains($"serving /healthz, /metrics and /rules on http://*:{port}/", output.ToString());
    }

    [Fact]
    public async Task Rules_endpoint_serves_the_programmed_services_with_their_endpoints_as_json()
    {
        JsonObject service = (await _cluster.GetAsync("v1", "Service", "x"))!;
        string vip = service["spec"]!["clusterIP"]!.GetValue<string>();
        int port = FreePort();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Task<int> run = CliApp.RunAsync(["agent", "--dry-run", "--kubeconfig", _cluster.KubeconfigPath, "--mode", "sidecar", "--service", "default/x", "--service", "default/missing",
            "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            TextWriter.Synchronized(new StringWriter()), TextWriter.Synchronized(new StringWriter()), stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        await PollAsync(http, "healthz", stop.Token);
        HttpResponseMessage response = await http.GetAsync("rules", stop.Token);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonObject rules = JsonNode.Parse(await response.Content.ReadAsStringAsync(stop.Token))!.AsObject();
        Assert.Equal("sidecar", rules["mode"]!.GetValue<string>());
        Assert.True(rules["dryRun"]!.GetValue<bool>());
        Assert.Equal(["ip clientlb", "ip6 clientlb"], rules["tables"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.True(rules["lastSync"]!["ok"]!.GetValue<bool>());
        Assert.NotNull(rules["lastSync"]!["lastSuccess"]!.GetValue<string>());
        JsonObject x = Assert.Single(rules["services"]!.AsArray())!.AsObject();
        Assert.Equal(("default", "x"), (x["namespace"]!.GetValue<string>(), x["name"]!.GetValue<string>()));
        JsonObject vipPort = Assert.Single(x["ports"]!.AsArray())!.AsObject();
        Assert.Equal((vip, "tcp", 80, "http"), (vipPort["vip"]!.GetValue<string>(), vipPort["protocol"]!.GetValue<string>(), vipPort["port"]!.GetValue<int>(), vipPort["name"]!.GetValue<string>()));
        Assert.Equal(["10.231.0.11:8080", "10.231.0.12:8080"],
            vipPort["endpoints"]!.AsArray().Select(e => $"{e!["address"]!.GetValue<string>()}:{e["port"]!.GetValue<int>()}").Order(StringComparer.Ordinal));
        Assert.Empty(x["droppedEndpoints"]!.AsArray());
        await stop.CancelAsync();
        Assert.Equal(0, await run);
    }

    [Fact]
    public async Task Rules_endpoint_names_the_services_the_last_sync_rejected()
    {
        // Node mode refuses the sandbox's 127.96.0.0/16 cluster IPs (loopback VIPs are for a sidecar): /rules says so.
        int port = FreePort();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Task<int> run = CliApp.RunAsync(["agent", "--dry-run", "--kubeconfig", _cluster.KubeconfigPath, "--mode", "node", "--namespace", "default", "--metrics-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            TextWriter.Synchronized(new StringWriter()), TextWriter.Synchronized(new StringWriter()), stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        await PollAsync(http, "healthz", stop.Token);
        JsonObject rules = JsonNode.Parse(await http.GetStringAsync("rules", stop.Token))!.AsObject();
        Assert.Equal("node", rules["mode"]!.GetValue<string>());
        Assert.Empty(rules["services"]!.AsArray());
        JsonNode rejected = Assert.Single(rules["rejected"]!.AsArray(), r => r!["service"]!.GetValue<string>() == "default/x")!;
        Assert.Contains("127.", rejected["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        await stop.CancelAsync();
        Assert.Equal(0, await run);
    }

    /// <summary>Waits until the listener answers 200 (the first sync done); fails the test after the token's deadline.</summary>
    private static async Task<HttpResponseMessage> PollAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                HttpResponseMessage response = await http.GetAsync(path, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return response;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }
}
