using System.Text.Json.Nodes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Source;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Http;
using ClientLb.Sandbox;
using ClientLb.ServiceDiscovery;
using ClientLb.Sources;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Tests.Sandbox;

/// <summary>One watch per service however many names use it; one per namespace above the threshold; none when unused.</summary>
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
        var api = new CountingApi(new KubernetesApiClient(KubeconfigLoader.Load(cluster.KubeconfigPath)));
        await using var factory = TestFactory.Create(cluster, api: api);
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
        var api = new CountingApi(new KubernetesApiClient(KubeconfigLoader.Load(cluster.KubeconfigPath)));
        await using var factory = TestFactory.Create(cluster, o => o.NamespaceWatchThreshold = 3, api: api);
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
        var time = new ManualTimeProvider();
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
}
