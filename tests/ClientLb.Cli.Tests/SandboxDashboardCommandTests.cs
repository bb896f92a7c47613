using System.Diagnostics;
using System.Text.Json;

namespace ClientLb.Cli.Tests;

/// <summary><c>clientlb sandbox --dashboard-port</c>: the web view is served, follows the cluster's Services, and a bad port is named.</summary>
public class SandboxDashboardCommandTests
{
    private const string Manifest = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: shop }
        spec:
          replicas: 2
          selector: { matchLabels: { app: shop } }
          template:
            metadata: { labels: { app: shop } }
            spec:
              containers: [ { name: app, image: shop:1, ports: [ { name: http, containerPort: 8080 } ] } ]
        ---
        apiVersion: v1
        kind: Service
        metadata: { name: shop }
        spec:
          selector: { app: shop }
          ports: [ { name: http, port: 80, targetPort: http } ]
        """;

    private const string ExternalService = """
        apiVersion: v1
        kind: Service
        metadata: { name: ext }
        spec:
          ports: [ { name: http, port: 81 } ]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: ext-1, labels: { kubernetes.io/service-name: ext } }
        addressType: IPv4
        ports: [ { name: http, port: 8080 } ]
        endpoints:
        - { addresses: [10.231.0.11], conditions: { ready: true }, targetRef: { kind: Pod, name: ext-a } }
        - { addresses: [10.231.0.12], conditions: { ready: true }, targetRef: { kind: Pod, name: ext-b } }
        """;

    [Fact]
    public async Task The_dashboard_port_serves_the_balancing_view_of_every_service_and_the_cluster_side()
    {
        string manifest = Path.Combine(Path.GetTempPath(), $"clientlb-cli-dashboard-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(manifest, Manifest);
        try
        {
            await using RunningSandbox sandbox = await RunningSandbox.StartAsync("-f", manifest, "--dashboard-port", "0");
            var waited = Stopwatch.StartNew();
            string line = sandbox.Value("dashboard: ");
            var address = new Uri(line.Split(' ')[0]);
            Assert.EndsWith($"(cluster side: {address}cluster/)", line);
            using var http = new HttpClient { BaseAddress = address };

            // The Service appears in the balancing view once the view's client followed it, with both pods.
            JsonElement shop = default;
            while (shop.ValueKind == JsonValueKind.Undefined || shop.GetProperty("inRotation").GetInt32() < 2)
            {
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "the view did not show shop.default: " + await http.GetStringAsync("api/services"));
                using JsonDocument services = JsonDocument.Parse(await http.GetStringAsync("api/services"));
                shop = services.RootElement.EnumerateArray().FirstOrDefault(s => s.GetProperty("key").GetString() == "shop.default|http").Clone();
                await Task.Delay(50);
            }
            Assert.Equal("kubernetes", shop.GetProperty("sourceKind").GetString());

            using JsonDocument state = JsonDocument.Parse(await http.GetStringAsync("cluster/api/state"));
            JsonElement service = state.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "shop");
            Assert.Contains(service.GetProperty("dns").EnumerateArray(), r => r.GetString()!.Contains("IN A " + service.GetProperty("clusterIP").GetString(), StringComparison.Ordinal));
            Assert.Contains("ClientLb sandbox", await http.GetStringAsync("cluster/"));
        }
        finally
        {
            File.Delete(manifest);
        }
    }

    [Fact]
    public async Task The_cluster_side_shows_the_agents_rules_for_a_service_and_agent_not_running_without_one()
    {
        string manifest = Path.Combine(Path.GetTempPath(), $"clientlb-cli-dashboard-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(manifest, Manifest);
        int agentPort = FreePort();
        string agentUrl = $"http://127.0.0.1:{agentPort}";
        try
        {
            await File.AppendAllTextAsync(manifest, "\n---\n" + ExternalService);
            await using RunningSandbox sandbox = await RunningSandbox.StartAsync("-f", manifest, "--dashboard-port", "0", "--agent-metrics", agentUrl);
            using var http = new HttpClient { BaseAddress = new Uri(sandbox.Value("dashboard: ").Split(' ')[0]) };

            // No agent listens yet: the panel says so, naming where it looked.
            using (JsonDocument state = JsonDocument.Parse(await http.GetStringAsync("cluster/api/state")))
            {
                JsonElement agent = state.RootElement.GetProperty("agent");
                Assert.False(agent.GetProperty("running").GetBoolean());
                Assert.StartsWith($"agent not running at {agentUrl}/rules: ", agent.GetProperty("message").GetString(), StringComparison.Ordinal);
            }

            // A real agent (sidecar mode programs the sandbox's loopback ClusterIPs; dry run: no root, the kernel untouched).
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            Task<int> run = CliApp.RunAsync(["agent", "--dry-run", "--kubeconfig", sandbox.Value("kubeconfig: "), "--mode", "sidecar", "--service", "default/shop", "--service", "default/ext",
                "--metrics-port", agentPort.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                TextWriter.Synchronized(new StringWriter()), TextWriter.Synchronized(new StringWriter()), stop.Token);
            var waited = Stopwatch.StartNew();
            JsonElement ext = default, shop = default;
            string last = "";
            while (ext.ValueKind == JsonValueKind.Undefined || shop.ValueKind == JsonValueKind.Undefined || ext.GetProperty("endpoints").GetArrayLength() < 2 || shop.GetProperty("leftOut").GetArrayLength() < 2)
            {
                Assert.False(run.IsCompleted, "the agent ended early");
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the view did not show the agent's rules for default/ext and default/shop: " + last);
                await Task.Delay(50);
                last = await http.GetStringAsync("cluster/api/state");
                using JsonDocument state = JsonDocument.Parse(last);
                JsonElement agent = state.RootElement.GetProperty("agent");
                JsonElement[] ports = agent.GetProperty("running").GetBoolean() ? [.. agent.GetProperty("ports").EnumerateArray().Select(p => p.Clone())] : [];
                ext = ports.FirstOrDefault(p => p.GetProperty("service").GetString() == "default/ext");
                shop = ports.FirstOrDefault(p => p.GetProperty("service").GetString() == "default/shop");
            }
            using (JsonDocument state = JsonDocument.Parse(last))
            {
                Assert.Equal("sidecar", state.RootElement.GetProperty("agent").GetProperty("mode").GetString());
                JsonElement[] services = [.. state.RootElement.GetProperty("services").EnumerateArray()];
                // ext: VIP:port -> the pods of its EndpointSlice, as programmed; in sync with the slice, not stale.
                Assert.Equal(services.Single(s => s.GetProperty("name").GetString() == "ext").GetProperty("clusterIP").GetString(), ext.GetProperty("vip").GetString());
                Assert.Equal(81, ext.GetProperty("port").GetInt32());
                Assert.Equal(["10.231.0.11:8080 default/ext-a", "10.231.0.12:8080 default/ext-b"],
                    ext.GetProperty("endpoints").EnumerateArray().Select(e => e.GetProperty("endpoint").GetString() + " " + e.GetProperty("pod").GetString()).Order(StringComparer.Ordinal));
                Assert.False(ext.GetProperty("stale").GetBoolean(), ext.GetProperty("staleReason").ToString());
                // shop's pods are sandbox loopback servers, which the kernel cannot DNAT to: the agent left them out and says so.
                JsonElement shopService = services.Single(s => s.GetProperty("name").GetString() == "shop");
                string[] slicePods = [.. shopService.GetProperty("slices").EnumerateArray().SelectMany(s => s.GetProperty("endpoints").EnumerateArray()).Select(e => "default/" + e.GetProperty("pod").GetString()).Order(StringComparer.Ordinal)];
                Assert.Equal(slicePods, shop.GetProperty("leftOut").EnumerateArray().Select(e => e.GetProperty("pod").GetString()!).Order(StringComparer.Ordinal));
                Assert.Equal(0, shop.GetProperty("endpoints").GetArrayLength());
                Assert.False(shop.GetProperty("stale").GetBoolean(), shop.GetProperty("staleReason").ToString());
                Assert.Contains(state.RootElement.GetProperty("agent").GetProperty("dropped").EnumerateArray(), d => d.GetString()!.StartsWith("default/shop: ", StringComparison.Ordinal));
            }
            await stop.CancelAsync();
            Assert.Equal(0, await run);
        }
        finally
        {
            File.Delete(manifest);
        }
    }

    [Fact]
    public async Task Agent_rules_that_differ_from_the_endpoint_slices_are_marked_stale()
    {
        // An agent whose rules lag the cluster, served as the agent serves /rules: ext still points at a pod that left,
        // and gone is programmed though its Service was deleted.
        var rules = new ClientLb.Agent.Diagnostics.ProgrammedRules
        {
            Tables = ["ip clientlb", "ip6 clientlb"],
            Mode = "node",
            LastSuccess = DateTimeOffset.UtcNow,
            Services =
            [
                new("default", "ext", null, [new("127.96.0.50", "tcp", 81, "http", [new("10.231.0.11", 8080, 1), new("10.231.0.99", 8080, 1)], null)], []),
                new("default", "gone", null, [new("127.96.0.51", "tcp", 80, null, [new("10.231.0.12", 8080, 1)], null)], []),
            ],
            Rejected = [],
        };
        int agentPort = FreePort();
        using var agent = new System.Net.HttpListener();
        agent.Prefixes.Add($"http://127.0.0.1:{agentPort}/");
        agent.Start();
        _ = Task.Run(async () =>
        {
            while (agent.IsListening)
            {
                System.Net.HttpListenerContext context;
                try
                {
                    context = await agent.GetContextAsync();
                }
                catch (Exception ex) when (ex is System.Net.HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                byte[] body = context.Request.Url!.AbsolutePath == "/rules" ? rules.ToJsonBytes() : [];
                context.Response.StatusCode = body.Length > 0 ? 200 : 404;
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        });
        string manifest = Path.Combine(Path.GetTempPath(), $"clientlb-cli-dashboard-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(manifest, ExternalService);
        try
        {
            await using RunningSandbox sandbox = await RunningSandbox.StartAsync("-f", manifest, "--dashboard-port", "0", "--agent-metrics", $"http://127.0.0.1:{agentPort}/");
            using var http = new HttpClient { BaseAddress = new Uri(sandbox.Value("dashboard: ").Split(' ')[0]) };
            using JsonDocument state = JsonDocument.Parse(await http.GetStringAsync("cluster/api/state"));
            JsonElement[] ports = [.. state.RootElement.GetProperty("agent").GetProperty("ports").EnumerateArray()];
            JsonElement ext = ports.Single(p => p.GetProperty("service").GetString() == "default/ext");
            Assert.True(ext.GetProperty("stale").GetBoolean());
            Assert.Equal("the EndpointSlices differ: not programmed 10.231.0.12:8080; programmed but not eligible 10.231.0.99:8080", ext.GetProperty("staleReason").GetString());
            Assert.Equal("default/ext-a", ext.GetProperty("endpoints")[0].GetProperty("pod").GetString());
            JsonElement gone = ports.Single(p => p.GetProperty("service").GetString() == "default/gone");
            Assert.True(gone.GetProperty("stale").GetBoolean());
            Assert.Equal("the Service is gone from the cluster", gone.GetProperty("staleReason").GetString());
        }
        finally
        {
            agent.Close();
            File.Delete(manifest);
        }
    }

    [Fact]
    public async Task Agent_metrics_must_be_an_http_url_and_needs_the_dashboard()
    {
        var error = new StringWriter();
        Assert.NotEqual(0, await CliApp.RunAsync(["sandbox", "--dashboard-port", "0", "--agent-metrics", "127.0.0.1:9464"], new StringWriter(), error));
        Assert.Contains("--agent-metrics: '127.0.0.1:9464' is not an http:// URL", error.ToString());
        error = new StringWriter();
        Assert.NotEqual(0, await CliApp.RunAsync(["sandbox", "--agent-metrics", "http://127.0.0.1:9464"], new StringWriter(), error));
        Assert.Contains("--agent-metrics needs --dashboard-port", error.ToString());
    }

    [Fact]
    public async Task Sigterm_stops_the_sandbox_with_its_dashboard()
    {
        // The web view's host must not take SIGTERM from the command (it would cancel the process's termination and stop
        // only the web app, leaving the sandbox running): the clientlb process ends, as it does without the view.
        string cli = Path.Combine(AppContext.BaseDirectory, "ClientLb.Cli.dll");
        var start = new ProcessStartInfo("dotnet", [cli, "sandbox", "--dashboard-port", "0"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        try
        {
            using var started = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync(started.Token)) is not null && !line.StartsWith("press Ctrl-C", StringComparison.Ordinal))
            {
            }
            Assert.NotNull(line);
            using (Process kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(stopped.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail("clientlb sandbox --dashboard-port did not stop within 15 s of SIGTERM");
            }
            Assert.True(process.HasExited);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_bad_dashboard_port_is_named()
    {
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["sandbox", "--dashboard-port", "70000"], new StringWriter(), error);
        Assert.NotEqual(0, code);
        Assert.Contains("--dashboard-port must be a port number (0-65535).", error.ToString());
    }
}
