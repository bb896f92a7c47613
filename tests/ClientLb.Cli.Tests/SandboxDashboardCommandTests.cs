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
    public async Task A_bad_dashboard_port_is_named()
    {
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["sandbox", "--dashboard-port", "70000"], new StringWriter(), error);
        Assert.NotEqual(0, code);
        Assert.Contains("--dashboard-port must be a port number (0-65535).", error.ToString());
    }
}
