using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ClientLb.Endpoints;
using ClientLb.Http;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Kubernetes.Watching;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sandbox;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Kubernetes.Tests.Sandbox;

/// <summary>
/// One watch per service however many names use it; one per namespace above the threshold, back to per-service below
/// half of it; none when unused.
/// </summary>
public class SharingTests
{
    [Fact]
    public async Task Names_with_different_ports_share_one_watch_of_their_service_and_release_it()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("multi", 2);
        await cluster.CreateAsync(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = "multi", ["namespace"] = "default" },
            ["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject { ["app"] = "multi" },
                ["ports"] = new JsonArray(
                    new JsonObject { ["name"] = "http", ["port"] = 80, ["targetPort"] = 8080 },
                    new JsonObject { ["name"] = "alt", ["port"] = 81, ["targetPort"] = "http" }),
            },
        });
        await cluster.WaitForReadyEndpointsAsync("multi", 2, cancellationToken: new CancellationTokenSource(Await.DefaultTimeout).Token);
        var api = new CountingApi(KubernetesApiClient.FromConfiguration(KubernetesConnection.Load(cluster.KubeconfigPath)));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, api: api);
        IEndpointSource[] sources =
        [
            factory.Source("http://multi.default"),
            factory.Source("multi.default:http"),
            factory.Source("http://multi.default:81"),
            factory.Source("_alt.multi.default"),
            factory.Source("https+http://multi.default.svc.cluster.local:80"),
        ];
        foreach (IEndpointSource source in sources)
        {
            await Await.EndpointsAsync(source, e => e.Count == 2 && e.All(x => x.Port == 8080), "2 endpoints on 8080 for " + source.Service);
        }
        Assert.Equal(1, api.Count("list slices default kubernetes.io/service-name=multi"));
        Assert.Equal(1, api.Count("list services default metadata.name=multi"));
        Assert.Equal([("default", (string?)"multi")], factory.Manager!.Scopes);

        for (int i = 0; i < sources.Length - 1; i++)
        {
            await sources[i].DisposeAsync();
        }
        Assert.Single(factory.Manager.Scopes);
        await sources[^1].DisposeAsync();
        Assert.Empty(factory.Manager.Scopes);
        Assert.Empty(factory.Manager.Views);
    }

    [Fact]
    public async Task Many_services_of_a_namespace_switch_to_one_namespace_wide_watch()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["shop"] });
        string[] names = ["a", "b", "c", "d"];
        foreach (string name in names)
        {
            await TestFactory.DeployAsync(cluster, name, 1, "shop");
        }
        var api = new CountingApi(KubernetesApiClient.FromConfiguration(KubernetesConnection.Load(cluster.KubeconfigPath)));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, o => o.NamespaceWatchThreshold = 3, api: api);
        var sources = names.Select(n => factory.Source($"http://{n}.shop")).ToList();
        foreach (IEndpointSource source in sources)
        {
            await Await.EndpointsAsync(source, e => e.Count == 1, "1 endpoint of " + source.Service);
        }
        await Await.UntilAsync(() => factory.Manager!.Scopes.SequenceEqual([("shop", (string?)null)]), "only the namespace-wide scope");
        Assert.Equal(1, api.Calls.Count(c => c == "list slices shop kubernetes.io/service-name"));
        Assert.Equal(2, api.Count("list slices shop kubernetes.io/service-name="));

        // Changes now arrive through the namespace-wide watch, and a new service is served from its cache.
        await cluster.ScaleDeploymentAsync("d", 3, "shop");
        await Await.EndpointsAsync(sources[3], e => e.Count(x => x.Conditions.Ready) == 3, "d scaled to 3");
        await TestFactory.DeployAsync(cluster, "e", 2, "shop");
        await using (IEndpointSource e = factory.Source("http://e.shop"))
        {
            await Await.EndpointsAsync(e, x => x.Count == 2, "e from the namespace-wide cache");
        }
        Assert.Equal(2, api.Count("list slices shop kubernetes.io/service-name="));

        foreach (IEndpointSource source in sources)
        {
            await source.DisposeAsync();
        }
        Assert.Empty(factory.Manager!.Scopes);
    }

    [Fact]
    public async Task The_watch_stops_once_the_last_HttpClient_of_its_service_is_disposed_and_the_idle_timeout_passed()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "orders", 2);
        // The registry's clock (the idle-service timeout) is moved by hand; the watches keep the real one.
        var time = new FakeTimeProvider();
        var logs = new CapturingLoggerProvider();
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs));
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton(factory);
        services.AddClientLbKubernetes();
        await using ServiceProvider provider = services.BuildServiceProvider();
        ServiceRegistry registry = provider.GetRequiredService<ServiceRegistry>();
        TimeSpan idle = registry.Options.IdleServiceTimeout;
        var first = new HttpClient(new ClientLbHttpHandler(registry)) { BaseAddress = new Uri("http://orders.default") };
        var second = new HttpClient(new ClientLbHttpHandler(registry)) { BaseAddress = new Uri("http://orders.default") };
        (await first.GetAsync("/")).EnsureSuccessStatusCode();
        (await second.GetAsync("/")).EnsureSuccessStatusCode();
        Assert.Equal([("default", (string?)"orders")], factory.Manager!.Scopes);
        Assert.Single(registry.Balancers);

        // One client left: the service keeps its watch however long the other has been gone.
        first.Dispose();
        time.Advance(idle * 3);
        Assert.Single(registry.Balancers);
        Assert.Equal([("default", (string?)"orders")], factory.Manager.Scopes);

        second.Dispose();
        time.Advance(idle - TimeSpan.FromSeconds(1));
        Assert.Equal([("default", (string?)"orders")], factory.Manager.Scopes);
        time.Advance(TimeSpan.FromSeconds(1));
        await Await.UntilAsync(() => factory.Manager.Scopes.Count == 0, "the watch of orders to stop");
        Assert.Empty(factory.Manager.Views);
        Assert.Empty(registry.Balancers);
        Assert.Contains(logs.Lines, l => l.Contains("Service orders.default") && l.Contains("its balancer is released and its source stopped"));
    }

    private const string WideSliceList = "list slices shop kubernetes.io/service-name";

    private static (string, string?)[] Wide => [("shop", null)];

    private static HashSet<(string, string?)> ScopeSet(KubernetesEndpointSourceFactory factory) => [.. factory.Manager!.Scopes];

    private static ServiceView ViewOf(KubernetesEndpointSourceFactory factory, string service) =>
        factory.Manager!.Views.Single(v => v.Name == service);

    /// <summary>A sandbox with namespace shop, one deployment and service per name, and one started source each, namespace-wide.</summary>
    private sealed record Shop(SandboxCluster Cluster, CountingApi Api, KubernetesEndpointSourceFactory Factory) : IAsyncDisposable
    {
        public List<IEndpointSource> Sources { get; } = [];

        public static async Task<Shop> StartAsync(int threshold, params (string Name, int Replicas)[] services)
        {
            SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["shop"] });
            var api = new CountingApi(KubernetesApiClient.FromConfiguration(KubernetesConnection.Load(cluster.KubeconfigPath)));
            var shop = new Shop(cluster, api, TestFactory.Create(cluster, o => o.NamespaceWatchThreshold = threshold, api: api));
            try
            {
                foreach ((string name, int replicas) in services)
                {
                    await TestFactory.DeployAsync(cluster, name, replicas, "shop");
                }
                foreach ((string name, _) in services)
                {
                    IEndpointSource source = shop.Factory.Source($"http://{name}.shop");
                    await Await.EndpointsAsync(source, e => e.Count > 0, "endpoints of " + name);
                    shop.Sources.Add(source);
                }
                await Await.UntilAsync(() => shop.Factory.Manager!.Scopes.SequenceEqual(Wide), "only the namespace-wide scope");
                return shop;
            }
            catch
            {
                await shop.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Factory.DisposeAsync();
            await Cluster.DisposeAsync();
        }
    }

    private static int Ready(IEndpointSource source) => source.Current?.Endpoints.Count(e => e.Conditions.Ready) ?? 0;

    [Fact]
    public async Task Below_half_the_threshold_the_namespace_switches_back_to_per_service_watches_without_a_gap()
    {
        await using Shop shop = await Shop.StartAsync(5, ("a", 1), ("b", 2), ("c", 1), ("d", 1), ("e", 1));
        (SandboxCluster cluster, CountingApi api, KubernetesEndpointSourceFactory factory, List<IEndpointSource> sources) = (shop.Cluster, shop.Api, shop.Factory, shop.Sources);
        IEndpointSource a = sources[0], b = sources[1];

        // Every state a and b publish from here on, to prove none is missing or older than the one before.
        var published = new ConcurrentQueue<(string Service, long Version, int Ready)>();
        using IDisposable watchA = a.Subscribe(s => published.Enqueue(("a", s.Current!.Version, Ready(s))));
        using IDisposable watchB = b.Subscribe(s => published.Enqueue(("b", s.Current!.Version, Ready(s))));

        // 3 of 5 left: above half the threshold, still namespace-wide.
        await sources[4].DisposeAsync();
        await sources[3].DisposeAsync();
        Assert.Equal(Wide, factory.Manager!.Scopes);

        // 2 of 5: per-service scopes start at once; b's list is held, so the namespace-wide scope must go on feeding b.
        TaskCompletionSource releaseB = api.Hold("list slices shop kubernetes.io/service-name=b");
        await sources[2].DisposeAsync();
        Assert.True(ScopeSet(factory).SetEquals([("shop", "a"), ("shop", "b"), ("shop", null)]), "per-service scopes beside the namespace-wide one");
        await Await.UntilAsync(() => ViewOf(factory, "a").Feeder?.ServiceName == "a", "a handed over to its own scope");
        Assert.Null(ViewOf(factory, "b").Feeder!.ServiceName);
        await cluster.ScaleDeploymentAsync("b", 3, "shop");
        await Await.EndpointsAsync(b, e => e.Count(x => x.Conditions.Ready) == 3, "b scaled to 3 through the namespace-wide watch");
        Assert.True(ScopeSet(factory).SetEquals([("shop", "a"), ("shop", "b"), ("shop", null)]), "the namespace-wide scope still runs for b");

        releaseB.SetResult();
        await Await.UntilAsync(() => ScopeSet(factory).SetEquals([("shop", "a"), ("shop", "b")]), "per-service scopes only");
        Assert.Equal("b", ViewOf(factory, "b").Feeder!.ServiceName);
        Assert.Equal(1, api.Calls.Count(c => c == WideSliceList));
        Assert.Equal(2, api.Count("list slices shop kubernetes.io/service-name=a"));
        Assert.Equal(2, api.Count("list slices shop kubernetes.io/service-name=b"));

        // Later changes arrive through the per-service watches.
        await cluster.ScaleDeploymentAsync("a", 2, "shop");
        await cluster.ScaleDeploymentAsync("b", 1, "shop");
        await Await.EndpointsAsync(a, e => e.Count(x => x.Conditions.Ready) == 2 && e.Count == 2, "a scaled to 2");
        await Await.EndpointsAsync(b, e => e.Count(x => x.Conditions.Ready) == 1, "b scaled to 1");
        Assert.Equal(1, api.Calls.Count(c => c == WideSliceList));

        // Throughout: versions only grow, a kept its endpoint until scaled, b never went empty nor back to 2 after 3.
        (string Service, long Version, int Ready)[] seen = [.. published];
        foreach (string service in new[] { "a", "b" })
        {
            var mine = seen.Where(p => p.Service == service).ToList();
            Assert.True(mine.Zip(mine.Skip(1)).All(p => p.Second.Version >= p.First.Version), $"{service}: versions in order");
            Assert.DoesNotContain(mine, p => p.Ready == 0);
        }
        var readyA = seen.Where(p => p.Service == "a").Select(p => p.Ready).ToList();
        Assert.Equal(2, readyA[^1]);
        Assert.All(readyA.TakeWhile(r => r != 2), r => Assert.Equal(1, r));
        var readyB = seen.Where(p => p.Service == "b").Select(p => p.Ready).ToList();
        int firstThree = readyB.IndexOf(3);
        int lastThree = readyB.LastIndexOf(3);
        Assert.True(firstThree >= 0, "b published 3 ready endpoints");
        Assert.All(readyB.Take(firstThree), r => Assert.Equal(2, r));
        Assert.All(readyB.Skip(firstThree).Take(lastThree - firstThree + 1), r => Assert.Equal(3, r));
        Assert.Equal(1, readyB[^1]);

        await a.DisposeAsync();
        await b.DisposeAsync();
        Assert.Empty(factory.Manager.Scopes);
    }

    [Fact]
    public async Task A_count_moving_around_the_threshold_keeps_the_one_namespace_wide_watch()
    {
        await using Shop shop = await Shop.StartAsync(3, ("a", 1), ("b", 1), ("c", 1));
        (CountingApi api, KubernetesEndpointSourceFactory factory, List<IEndpointSource> sources) = (shop.Api, shop.Factory, shop.Sources);

        for (int round = 0; round < 4; round++)
        {
            await sources[2].DisposeAsync();
            Assert.Equal(Wide, factory.Manager!.Scopes);
            sources[2] = factory.Source("http://c.shop");
            await Await.EndpointsAsync(sources[2], e => e.Count == 1, "c again, round " + round);
            Assert.Equal(Wide, factory.Manager.Scopes);
        }
        Assert.Equal(1, api.Calls.Count(c => c == WideSliceList));
        // Only a and b were ever listed on their own (before the switch); c always came from the namespace-wide cache.
        Assert.Equal(2, api.Count("list slices shop kubernetes.io/service-name="));

        foreach (IEndpointSource source in sources)
        {
            await source.DisposeAsync();
        }
    }

    [Fact]
    public async Task Climbing_back_while_switching_back_keeps_the_running_namespace_wide_watch()
    {
        string[] names = ["a", "b", "c", "d"];
        await using Shop shop = await Shop.StartAsync(4, [.. names.Select(n => (n, 1))]);
        (CountingApi api, KubernetesEndpointSourceFactory factory, List<IEndpointSource> sources) = (shop.Api, shop.Factory, shop.Sources);

        // Per-service lists never answer: the switch back cannot complete, a keeps being fed by the namespace-wide scope.
        api.Hold("list slices shop kubernetes.io/service-name=");
        for (int i = 3; i >= 1; i--)
        {
            await sources[i].DisposeAsync();
        }
        Assert.True(ScopeSet(factory).SetEquals([("shop", "a"), ("shop", null)]), "a's scope beside the namespace-wide one");
        Assert.Null(ViewOf(factory, "a").Feeder!.ServiceName);

        // Back to the threshold: the running namespace-wide scope takes over again; no new namespace-wide list.
        for (int i = 1; i <= 3; i++)
        {
            sources[i] = factory.Source($"http://{names[i]}.shop");
        }
        await Await.UntilAsync(() => factory.Manager!.Scopes.SequenceEqual(Wide), "only the namespace-wide scope again");
        foreach (IEndpointSource source in sources)
        {
            await Await.EndpointsAsync(source, e => e.Count == 1, "endpoints of " + source.Service);
        }
        Assert.Equal(1, api.Calls.Count(c => c == WideSliceList));
        Assert.All(factory.Manager!.Views, v => Assert.Null(v.Feeder!.ServiceName));

        foreach (IEndpointSource source in sources)
        {
            await source.DisposeAsync();
        }
        Assert.Empty(factory.Manager.Scopes);
    }
}
