using System.Diagnostics.Metrics;
using System.Net;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Sandbox;
using ClientLb.Sources;

namespace ClientLb.Kubernetes.Tests.Sandbox;

/// <summary>Bookmarks, periodic re-lists and the staleness metric, against the sandbox.</summary>
public sealed class WatchProtocolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-protocol-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Bookmarks_move_the_resume_point_past_unrelated_changes()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { BookmarkInterval = TimeSpan.FromMilliseconds(50) });
        await TestFactory.DeployAsync(cluster, "web", 1);
        var api = new CountingApi(KubernetesApiClient.FromConfiguration(KubernetesConnection.Load(cluster.KubeconfigPath)));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, api: api);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.EndpointsAsync(source, e => e.Count == 1, "1 endpoint");
        // The endpoints come from the list; the watch that follows it may not be open yet.
        await Await.UntilAsync(() => api.SliceWatchVersions.Count > 0, "the first slice watch");
        long first = api.SliceWatchVersions[0];

        // Other services change the cluster's resourceVersion; this watch sees none of it but bookmarks carry it.
        await TestFactory.DeployAsync(cluster, "other", 2);
        long target = cluster.ResourceVersion;
        // Drop the watch only after it has lived a few bookmark intervals (dropping it on every poll could kill each
        // new watch before its first bookmark); each round waits for the client's re-watch and checks where it resumed.
        for (int round = 0; api.SliceWatchVersions[^1] < target; round++)
        {
            Assert.True(round < 100, $"no re-watch resumed at or after resourceVersion {target}: {string.Join(", ", api.SliceWatchVersions)}");
            int watches = api.SliceWatchVersions.Count;
            await Task.Delay(TimeSpan.FromMilliseconds(200));
            cluster.DropWatches();
            await Await.UntilAsync(() => api.SliceWatchVersions.Count > watches, "a re-watch after the drop");
        }
        Assert.True(api.SliceWatchVersions[^1] > first);
        Assert.Equal(1, api.Count("list slices"));
    }

    [Fact]
    public async Task A_periodic_relist_runs_as_a_safety_net()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "web", 2);
        var api = new CountingApi(KubernetesApiClient.FromConfiguration(KubernetesConnection.Load(cluster.KubeconfigPath)));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, o => o.ResyncInterval = TimeSpan.FromMilliseconds(200), api: api);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.EndpointsAsync(source, e => e.Count == 2, "2 endpoints");
        long version = source.Current!.Version;
        await Await.UntilAsync(() => api.Count("list slices") >= 3, "two re-lists");
        // An unchanged re-list publishes nothing new.
        Assert.Equal(version, source.Current!.Version);
        await cluster.ScaleDeploymentAsync("web", 3);
        await Await.EndpointsAsync(source, e => e.Count(x => x.Conditions.Ready) == 3, "3 endpoints between re-lists");
    }

    [Fact]
    public async Task Staleness_is_measured_per_service_while_the_api_is_unreachable()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "web", 1);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, cluster.ApiServerUri.Port));
        string kubeconfig = Path.Combine(_dir, "proxied");
        File.WriteAllText(kubeconfig, File.ReadAllText(cluster.KubeconfigPath).Replace($":{cluster.ApiServerUri.Port}", $":{proxy.Port}", StringComparison.Ordinal));
        using var metrics = new KubernetesMetrics();
        await using var factory = new KubernetesEndpointSourceFactory(Microsoft.Extensions.Options.Options.Create(TestFactory.Options(kubeconfig)), metrics: metrics);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.EndpointsAsync(source, e => e.Count == 1, "1 endpoint");

        var staleness = new Dictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter && instrument.Name == "clientlb.kubernetes.staleness")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "clientlb.service")
                {
                    staleness[(string)tag.Value!] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(0, staleness["web.default"]);

        proxy.Stop();
        await Await.UntilAsync(() =>
        {
            listener.RecordObservableInstruments();
            return staleness["web.default"] > 0.1;
        }, "the staleness gauge to grow");
        Assert.Single(source.Current!.Endpoints);

        proxy.Start();
        await Await.UntilAsync(() =>
        {
            listener.RecordObservableInstruments();
            return staleness["web.default"] == 0;
        }, "the staleness gauge back to 0");
    }
}
