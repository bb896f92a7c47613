using System.Text.Json;
using ClientLb.Sandbox;

namespace ClientLb.Cli.Tests;

/// <summary><c>clientlb resolve/watch --source kubernetes</c> against the sandbox's API server.</summary>
public sealed class KubernetesCommandTests : IAsyncLifetime
{
    private SandboxCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["finance"] });
        await _cluster.CreateDeploymentAsync("payment", 3, ns: "finance");
        await _cluster.CreateServiceAsync("payment-service", "payment", port: 80, targetPort: 8080, ns: "finance");
        await _cluster.WaitForReadyEndpointsAsync("payment-service", 3, "finance");
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Resolve_prints_the_documented_json_shape()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["resolve", "payment-service.finance", "--source", "kubernetes", "--kubeconfig", _cluster.KubeconfigPath, "--allow-loopback", "-o", "json"], output, error);
        Assert.True(code == 0, error.ToString());
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        Assert.Equal("payment-service.finance", doc.RootElement.GetProperty("service").GetString());
        Assert.Equal("kubernetes", doc.RootElement.GetProperty("source").GetString());
        JsonElement[] endpoints = [.. doc.RootElement.GetProperty("endpoints").EnumerateArray()];
        Assert.Equal(_cluster.GetPods("app=payment", "finance").Select(p => p.IP).Order(), endpoints.Select(e => e.GetProperty("address").GetString()).Order());
        Assert.All(endpoints, e =>
        {
            Assert.Equal(8080, e.GetProperty("port").GetInt32());
            Assert.True(e.GetProperty("ready").GetBoolean());
            Assert.StartsWith("zone-", e.GetProperty("zone").GetString());
            Assert.StartsWith("sandbox-node-", e.GetProperty("node").GetString());
        });
    }

    [Fact]
    public async Task Watch_prints_one_json_object_per_change()
    {
        var lines = new System.Collections.Concurrent.BlockingCollection<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var writer = new LineWriter(lines.Add);
        Task<int> run = CliApp.RunAsync(["watch", "payment-service.finance", "--source", "kubernetes", "--kubeconfig", _cluster.KubeconfigPath, "--allow-loopback", "-o", "json", "--count", "2"],
            writer, new StringWriter(), stop.Token);

        string first = lines.Take(stop.Token);
        Assert.Equal(3, JsonDocument.Parse(first).RootElement.GetProperty("endpoints").GetArrayLength());
        Assert.DoesNotContain('\n', first.TrimEnd());

        await _cluster.ScaleDeploymentAsync("payment", 4, "finance");
        // Intermediate snapshots (the new pod not ready yet) may come first; the last one of the run has it.
        Assert.Equal(0, await run.WaitAsync(stop.Token));
        string second = lines.Take(stop.Token);
        JsonElement root = JsonDocument.Parse(second).RootElement;
        Assert.Equal("kubernetes", root.GetProperty("source").GetString());
        Assert.True(root.GetProperty("version").GetInt64() > JsonDocument.Parse(first).RootElement.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Watch_prints_when_the_source_starts_failing_and_when_it_is_healthy_again()
    {
        var lines = new System.Collections.Concurrent.BlockingCollection<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var writer = new LineWriter(lines.Add);
        Task<int> run = CliApp.RunAsync(["watch", "payment-service.finance", "--source", "kubernetes", "--kubeconfig", _cluster.KubeconfigPath, "-o", "json", "--count", "3"],
            writer, new StringWriter(), stop.Token);
        JsonElement Status(string line) => JsonDocument.Parse(line).RootElement.GetProperty("status");

        Assert.True(Status(lines.Take(stop.Token)).GetProperty("healthy").GetBoolean());
        // The API server goes away: same endpoints, but the status is news.
        await _cluster.StopApiServerAsync();
        JsonElement failing = Status(lines.Take(stop.Token));
        Assert.False(failing.GetProperty("healthy").GetBoolean());
        Assert.False(string.IsNullOrEmpty(failing.GetProperty("lastError").GetString()));
        await _cluster.StartApiServerAsync(stop.Token);
        Assert.True(Status(lines.Take(stop.Token)).GetProperty("healthy").GetBoolean());
        Assert.Equal(0, await run.WaitAsync(stop.Token));
    }

    [Fact]
    public async Task A_missing_kubeconfig_or_service_is_named()
    {
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["resolve", "nope.finance", "--source", "kubernetes", "--kubeconfig", _cluster.KubeconfigPath, "--allow-loopback", "--port", "80"], new StringWriter(), error);
        Assert.Equal(1, code);
        Assert.Contains("nope", error.ToString());

        error = new StringWriter();
        code = await CliApp.RunAsync(["resolve", "payment-service.finance", "--source", "kubernetes", "--kubeconfig", "/nonexistent/kubeconfig"], new StringWriter(), error);
        Assert.Equal(1, code);
        Assert.Contains("/nonexistent/kubeconfig", error.ToString());
    }

    /// <summary>Hands each written line to a callback (the watch output, as it comes).</summary>
    private sealed class LineWriter(Action<string> onLine) : TextWriter
    {
        private readonly System.Text.StringBuilder _line = new();

        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_line)
            {
                if (value == '\n')
                {
                    onLine(_line.ToString());
                    _line.Clear();
                }
                else
                {
                    _line.Append(value);
                }
            }
        }
    }
}
