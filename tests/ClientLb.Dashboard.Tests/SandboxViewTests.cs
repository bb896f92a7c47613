using System.Diagnostics;
using ClientLb.Cli.SandboxView;
using ClientLb.Dashboard.Tests.Infrastructure;
using ClientLb.Sandbox;
using Microsoft.Playwright;

namespace ClientLb.Dashboard.Tests;

/// <summary>The sandbox's web view (clientlb sandbox, option dashboard-port) in Debian's chromium, against a sandbox cluster.</summary>
[Collection(MeasuredAlone.Name)]
public sealed class SandboxViewTests(Browser browser) : IClassFixture<Browser>, IAsyncLifetime
{
    private SandboxCluster _cluster = null!;
    private SandboxDashboard _view = null!;

    public async Task InitializeAsync()
    {
        _cluster = await SandboxCluster.StartAsync();
        await _cluster.CreateDeploymentAsync("web", 2);
        await _cluster.CreateServiceAsync("web", "web", 80, 8080);
        using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _cluster.WaitForReadyEndpointsAsync("web", 2, cancellationToken: ready.Token);
        _view = await SandboxDashboard.StartAsync(_cluster, 0, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _view.DisposeAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Scaling_a_deployment_on_the_cluster_page_adds_endpoints_on_the_balancing_view_within_a_second_without_reload()
    {
        IPage balancing = await browser.OpenAsync(new Uri(_view.Address, "#" + Uri.EscapeDataString("web.default|http")));
        await Assertions.Expect(balancing.Locator("#endpoints .row")).ToHaveCountAsync(2, new() { Timeout = 10_000 });
        await Assertions.Expect(balancing.Locator("[data-fact='source']")).ToContainTextAsync("kubernetes");
        IPage cluster = await browser.OpenAsync(new Uri(_view.Address, "cluster/"));
        ILocator deployment = cluster.Locator("[data-deployment='default/web']");
        await Assertions.Expect(deployment.Locator(".replicas")).ToHaveTextAsync("2 / 2");
        await Assertions.Expect(cluster.Locator("[data-service='default/web'] tr[data-endpoint]")).ToHaveCountAsync(2);
        // What the cluster DNS answers for the Service: its ClusterIP, and the SRV record of its named port.
        string clusterIp = (await _cluster.GetAsync("v1", "Service", "web"))!["spec"]!["clusterIP"]!.GetValue<string>();
        await Assertions.Expect(cluster.Locator("[data-service='default/web'] .dns")).ToContainTextAsync("IN A " + clusterIp);
        await Assertions.Expect(cluster.Locator("[data-service='default/web'] .dns")).ToContainTextAsync("_http._tcp.web.default.svc.cluster.local");

        await deployment.Locator("input").FillAsync("4");
        var clock = Stopwatch.StartNew();
        await deployment.Locator("button").ClickAsync();
        await Assertions.Expect(balancing.Locator("#endpoints .row")).ToHaveCountAsync(4, new() { Timeout = 1000 });
        TimeSpan shown = clock.Elapsed;
        Assert.True(shown < TimeSpan.FromSeconds(1), $"the new endpoints showed after {shown.TotalMilliseconds:0} ms");
        Assert.Equal(1, await balancing.EvaluateAsync<int>("() => performance.getEntriesByType('navigation').length"));
        await Assertions.Expect(balancing.Locator("#endpoints .state-in")).ToHaveCountAsync(4, new() { Timeout = 10_000 });
        await Assertions.Expect(deployment.Locator(".replicas")).ToHaveTextAsync("4 / 4", new() { Timeout = 10_000 });
        await Assertions.Expect(cluster.Locator("[data-service='default/web'] tr[data-endpoint]")).ToHaveCountAsync(4);
    }

    [Fact]
    public async Task The_agent_rules_panel_says_agent_not_running_and_shows_a_running_agents_vip_to_pod_endpoints()
    {
        IPage withoutAgent = await browser.OpenAsync(new Uri(_view.Address, "cluster/"));
        await Assertions.Expect(withoutAgent.GetByTestId("agent")).ToContainTextAsync("agent not running");
        await Assertions.Expect(withoutAgent.GetByTestId("agent")).ToContainTextAsync("--agent-metrics");

        await _cluster.ApplyManifestAsync("""
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
            """);
        int agentPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            agentPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        // A real agent in dry run (no root, the kernel untouched), sidecar mode for the sandbox's loopback ClusterIPs.
        Task<int> agent = ClientLb.Cli.CliApp.RunAsync(["agent", "--dry-run", "--kubeconfig", _cluster.KubeconfigPath, "--mode", "sidecar", "--service", "default/ext",
            "--metrics-port", agentPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], TextWriter.Null, TextWriter.Null, stop.Token);
        await using SandboxDashboard view = await SandboxDashboard.StartAsync(_cluster, 0, CancellationToken.None, agentMetrics: new Uri($"http://127.0.0.1:{agentPort}/"));
        IPage page = await browser.OpenAsync(new Uri(view.Address, "cluster/"));
        ILocator ext = page.Locator("[data-agent-port^='default/ext ']");
        await Assertions.Expect(ext).ToContainTextAsync("10.231.0.11:8080 (default/ext-a)", new() { Timeout = 10_000 });
        await Assertions.Expect(ext).ToContainTextAsync("in sync");
        await Assertions.Expect(page.GetByTestId("agent")).ToContainTextAsync("agent sidecar");

        // The agent stops: the panel says so, without a reload.
        await stop.CancelAsync();
        Assert.Equal(0, await agent);
        await Assertions.Expect(page.GetByTestId("agent")).ToContainTextAsync("agent not running", new() { Timeout = 5_000 });
    }

    [Fact]
    public async Task An_invalid_action_shows_the_api_servers_error_and_a_pod_made_not_ready_or_deleted_shows_on_both_pages()
    {
        IPage cluster = await browser.OpenAsync(new Uri(_view.Address, "cluster/"));
        ILocator deployment = cluster.Locator("[data-deployment='default/web']");
        await deployment.Locator("input").FillAsync("-1");
        await deployment.Locator("button").ClickAsync();
        await Assertions.Expect(cluster.GetByTestId("error")).ToContainTextAsync("spec.replicas");
        await Assertions.Expect(deployment.Locator(".replicas")).ToHaveTextAsync("2 / 2");

        // Made not ready (the readiness annotation, as kubectl annotate sets it): its endpoint turns not ready and
        // ClientLb stops picking it, on the balancing view.
        SandboxPod[] pods = [.. _cluster.GetPods("app=web")];
        await cluster.Locator($"[data-pod='default/{pods[1].Name}'] button.readiness").ClickAsync();
        await Assertions.Expect(cluster.Locator($"[data-pod='default/{pods[1].Name}']")).ToContainTextAsync("not ready");
        IPage balancing = await browser.OpenAsync(new Uri(_view.Address, "#" + Uri.EscapeDataString("web.default|http")));
        await Assertions.Expect(balancing.Locator($"#endpoints [data-endpoint='{pods[1].IP}:8080'] .state")).ToHaveTextAsync("not ready, not serving");
        await Assertions.Expect(balancing.Locator($"#endpoints [data-endpoint='{pods[0].IP}:8080'] .state")).ToHaveTextAsync("in rotation");

        SandboxPod victim = pods[0];
        await cluster.Locator($"[data-pod='default/{victim.Name}'] button.delete").ClickAsync();
        await Assertions.Expect(cluster.Locator($"[data-pod='default/{victim.Name}']")).ToContainTextAsync("terminating");
        await Assertions.Expect(cluster.GetByTestId("error")).ToHaveTextAsync("");
        await cluster.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "screenshots", "sandbox-cluster.png"), FullPage = true });
    }

    [Fact]
    public async Task The_traffic_generator_spreads_requests_over_the_pods_and_a_pod_made_to_fail_is_ejected_on_the_balancing_view()
    {
        IPage cluster = await browser.OpenAsync(new Uri(_view.Address, "cluster/"));
        await Assertions.Expect(cluster.Locator("#traffic-service option[value='web.default']")).ToHaveCountAsync(1);
        await cluster.Locator("#traffic-service").SelectOptionAsync("web.default");
        await cluster.Locator("#traffic-rate").FillAsync("500");
        await cluster.Locator("#traffic-start").ClickAsync();
        await Assertions.Expect(cluster.GetByTestId("error")).ToHaveTextAsync("the rate must be between 0 and 200 requests per second");

        await cluster.Locator("#traffic-rate").FillAsync("50");
        await cluster.Locator("#traffic-start").ClickAsync();
        await Assertions.Expect(cluster.GetByTestId("traffic-status")).ToContainTextAsync("sending 50/s to web.default");
        IPage balancing = await browser.OpenAsync(new Uri(_view.Address, "#" + Uri.EscapeDataString("web.default|http")));
        foreach (SandboxPod pod in _cluster.GetPods("app=web"))
        {
            await Assertions.Expect(balancing.Locator($"#chart g[data-endpoint='{pod.IP}:8080']")).Not.ToHaveAttributeAsync("data-picks", "0", new() { Timeout = 10_000 });
        }

        // A pod made to fail (503 on every answer, from its fault annotation): the view's client ejects it under the
        // traffic, and the balancing view says so and why.
        SandboxPod failing = _cluster.GetPods("app=web")[0];
        await cluster.Locator($"[data-pod='default/{failing.Name}'] button.fail").ClickAsync();
        await Assertions.Expect(cluster.Locator($"[data-pod='default/{failing.Name}']")).ToContainTextAsync("fails 503");
        await Assertions.Expect(balancing.Locator($"#endpoints [data-endpoint='{failing.IP}:8080'] .state")).ToContainTextAsync("ejected (server_errors) until",
            new() { Timeout = 10_000 });
        using (var http = new HttpClient { BaseAddress = _view.Address })
        {
            using HttpResponseMessage refused = await http.PostAsync("cluster/api/pod-fault",
                new StringContent($"{{\"namespace\":\"default\",\"name\":\"{failing.Name}\",\"failStatus\":200,\"delayMs\":0}}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("failStatus must be 0 (no failure) or a 5xx status code (was 200)", await refused.Content.ReadAsStringAsync());
        }

        await cluster.Locator("#traffic-stop").ClickAsync();
        await Assertions.Expect(cluster.GetByTestId("traffic-status")).ToHaveTextAsync("stopped");
    }
}
