using System.Net;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Health;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Sandbox;
using ClientLb.Sources;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ClientLb.Kubernetes.Tests.Sandbox;

/// <summary>Watches that drop, expire, fail and an API server that goes away: the final truth is never lost.</summary>
public sealed class FaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-faults-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static bool ReadyMatch(IEndpointSource s, SandboxCluster cluster, string app) =>
        s.Current is { } snap && snap.Endpoints.Where(e => e.Conditions.Ready).Select(e => e.Host).ToHashSet().SetEquals(TestFactory.PodIps(cluster, app));

    private static Task WatchesOpenAsync(SandboxCluster cluster) =>
        Await.UntilAsync(() => cluster.Watches.Open is var open
            && open.Where(w => w.Key.Resource == "services").Sum(w => w.Value) >= 1
            && open.Where(w => w.Key.Resource == "endpointslices.discovery.k8s.io").Sum(w => w.Value) >= 1, "the source's service and slice watches open on the server");

    private static Task ScaleAndWaitAsync(SandboxCluster cluster, string app, int replicas) =>
        cluster.ScaleDeploymentAsync(app, replicas).ContinueWith(_ => cluster.WaitForReadyEndpointsAsync(app, replicas, cancellationToken: new CancellationTokenSource(Await.DefaultTimeout).Token)).Unwrap();

    /// <summary>A kubeconfig whose server is the proxy in front of the sandbox.</summary>
    private string ProxiedKubeconfig(SandboxCluster cluster, TcpProxy proxy)
    {
        string text = File.ReadAllText(cluster.KubeconfigPath).Replace($":{cluster.ApiServerUri.Port}", $":{proxy.Port}", StringComparison.Ordinal);
        string path = Path.Combine(_dir, "proxied");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Dropped_watches_resume_from_their_resource_version_without_a_relist()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "web", 2);
        var api = new CountingApi(Kubernetes.Client.KubernetesApiClient.FromConfiguration(Kubernetes.Client.KubernetesConnection.Load(cluster.KubeconfigPath)));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, api: api);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web"), "2 endpoints");
        // A change that arrives proves the slice watch is open on the server before it is dropped.
        await ScaleAndWaitAsync(cluster, "web", 3);
        await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web"), "3 endpoints through the watch");

        for (int round = 1; round <= 3; round++)
        {
            int watches = api.Count("watch slices");
            Assert.True(cluster.DropWatches() >= 1);
            await Await.UntilAsync(() => api.Count("watch slices") > watches, "the slice watch reopened");
            await ScaleAndWaitAsync(cluster, "web", 3 + round);
            await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web"), $"{3 + round} endpoints after drop {round}");
            Assert.True(api.Count("watch slices") > watches);
        }
        Assert.Equal(1, api.Count("list slices"));
        Assert.Equal(1, api.Count("list services"));
        Assert.True(source.Status.IsHealthy);
    }

    [Fact]
    public async Task Api_server_outage_serves_last_known_good_reports_staleness_then_recovers_through_410()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero });
        await TestFactory.DeployAsync(cluster, "web", 3);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, cluster.ApiServerUri.Port));
        var api = new CountingApi(Kubernetes.Client.KubernetesApiClient.FromConfiguration(Kubernetes.Client.KubernetesConnection.Load(ProxiedKubeconfig(cluster, proxy))));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, o => o.StaleAfter = TimeSpan.FromMilliseconds(100), api: api);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web"), "3 endpoints");
        var health = new KubernetesHealthCheck(factory, Microsoft.Extensions.Options.Options.Create(TestFactory.Options(cluster.KubeconfigPath, o => o.StaleAfter = TimeSpan.FromMilliseconds(100))));
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("k8s", health, HealthStatus.Unhealthy, null) };
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(context)).Status);
        HashSet<string> before = [.. source.Current!.Endpoints.Select(e => e.Host)];

        // The API server goes away (a restart): connections cut, new ones refused.
        proxy.Stop();
        await Await.SourceAsync(source, s => s.Status.LastError is not null, "the source to report the outage");
        await ScaleAndWaitAsync(cluster, "web", 1);
        await Await.UntilAsync(() => source.Status.Staleness(DateTimeOffset.UtcNow) > TimeSpan.FromMilliseconds(150), "staleness to grow");
        // Last known good: the three endpoints of before the outage, although the cluster now has one.
        Assert.True(before.SetEquals(source.Current!.Endpoints.Select(e => e.Host)));
        HealthCheckResult degraded = await health.CheckHealthAsync(context);
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("web.default", degraded.Description);
        Assert.Contains("stale", degraded.Description);

        // While it was away the history was compacted: resuming gets 410 Gone and the source re-lists.
        cluster.CompactHistory();
        proxy.Start();
        await Await.SourceAsync(source, s => s.Status.IsHealthy && ReadyMatch(s, cluster, "web") && s.Current!.Endpoints.Length == 1, "the final truth after the restart");
        Assert.True(api.Count("list slices") >= 2, "expected a re-list after 410: " + string.Join("; ", api.Calls));
        Assert.Equal(TimeSpan.Zero, source.Status.Staleness(DateTimeOffset.UtcNow));
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(context)).Status);
    }

    [Fact]
    public async Task Compaction_while_watching_forces_a_relist_that_keeps_the_truth()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { WatchHistorySize = 2 });
        await TestFactory.DeployAsync(cluster, "web", 2);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, cluster.ApiServerUri.Port));
        var api = new CountingApi(Kubernetes.Client.KubernetesApiClient.FromConfiguration(Kubernetes.Client.KubernetesConnection.Load(ProxiedKubeconfig(cluster, proxy))));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, api: api);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web"), "2 endpoints");
        proxy.Stop();
        // More changes than the history keeps: the watch's resourceVersion is too old afterwards.
        await ScaleAndWaitAsync(cluster, "web", 4);
        await cluster.SetPodReadyAsync(cluster.GetPods("app=web")[0].Name, false);
        await cluster.WaitForReadyEndpointsAsync("web", 3, cancellationToken: new CancellationTokenSource(Await.DefaultTimeout).Token);
        proxy.Start();
        await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web") && s.Current!.Endpoints.Length == 4 && s.Status.IsHealthy, "3 ready of 4 after the 410 re-list");
        Assert.True(api.Count("list slices") >= 2);
    }

    [Theory]
    [InlineData(500, 6)]
    [InlineData(503, 4)]
    [InlineData(429, 2)]
    public async Task Error_bursts_are_retried_with_backoff_and_the_truth_arrives(int status, int count)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "web", 2);
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web"), "2 endpoints");
        // The source has its endpoints from the lists; its watch requests may still be on their way. A watch request past
        // the fault check but not yet open when the watches are dropped would open afterwards and never fail (once in a
        // loaded ./test.sh run: no error was ever reported), so the fault comes only once both watches are open.
        await WatchesOpenAsync(cluster);

        cluster.FailNextRequests(count, status);
        cluster.DropWatches();
        await Await.SourceAsync(source, s => s.Status.LastError is Kubernetes.Client.KubernetesApiException e && (int)e.StatusCode == status, $"the {status} to be reported");
        Assert.Equal(2, source.Current!.Endpoints.Length); // last known good while failing
        await ScaleAndWaitAsync(cluster, "web", 3);
        await Await.SourceAsync(source, s => s.Status.IsHealthy && ReadyMatch(s, cluster, "web"), "3 endpoints after the burst");
    }

    [Fact]
    public async Task A_source_started_during_an_outage_fails_clearly_then_serves_once_the_api_is_back()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "web", 2);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, cluster.ApiServerUri.Port));
        string kubeconfig = ProxiedKubeconfig(cluster, proxy);
        proxy.Stop();
        await using var factory = new Kubernetes.Sources.KubernetesEndpointSourceFactory(Microsoft.Extensions.Options.Options.Create(TestFactory.Options(kubeconfig)));
        await using IEndpointSource source = factory.Source("http://web.default");
        EndpointSourceException error = await Assert.ThrowsAsync<EndpointSourceException>(() => source.GetSnapshotAsync().AsTask().WaitAsync(Await.DefaultTimeout));
        Assert.Contains("cannot reach the API server", error.Message);
        proxy.Start();
        await Await.SourceAsync(source, s => ReadyMatch(s, cluster, "web"), "2 endpoints once the API is back");
    }
}
