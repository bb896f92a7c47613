using ClientLb.Balancing;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sandbox;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ClientLb.Kubernetes.Tests.Sandbox;

/// <summary>An application's HttpClient calling http://svc.ns through AddClientLb() and AddClientLbKubernetes().</summary>
public class EndToEndTests
{
    private static async Task<HashSet<string>> PodsAnsweringAsync(HttpClient client, int requests)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < requests; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/");
            response.EnsureSuccessStatusCode();
            seen.Add(await response.Content.ReadAsStringAsync());
        }
        return seen;
    }

    [Fact]
    public async Task Requests_spread_over_the_pods_and_follow_a_scale()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["finance"], DefaultTerminationGracePeriod = TimeSpan.Zero });
        await TestFactory.DeployAsync(cluster, "payment-service", 3, "finance");
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        services.AddHealthChecks().AddClientLbKubernetes();
        services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payment-service.finance")).AddClientLb();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("payments");
        // The very first request waits for the source's first answer and finds the picker already built.
        HashSet<string> pods = [.. cluster.GetPods(ns: "finance").Select(p => p.Name)];
        Assert.True(pods.SetEquals(await PodsAnsweringAsync(client, 12)));
        ServiceBalancer balancer = provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://payment-service.finance");

        IEndpointSource source = balancer.Source;
        Assert.Equal("kubernetes", source.Kind);
        await cluster.ScaleDeploymentAsync("payment-service", 5, "finance");
        await cluster.WaitForReadyEndpointsAsync("payment-service", 5, "finance", new CancellationTokenSource(Await.DefaultTimeout).Token);
        await Await.EndpointsAsync(source, e => e.Count(x => x.Conditions.Ready) == 5, "5 ready endpoints");
        pods = [.. cluster.GetPods(ns: "finance").Select(p => p.Name)];
        Assert.True(pods.SetEquals(await PodsAnsweringAsync(client, 20)));

        await cluster.ScaleDeploymentAsync("payment-service", 2, "finance");
        await cluster.WaitUntilAsync(c => c.GetPods(ns: "finance").Count == 2, new CancellationTokenSource(Await.DefaultTimeout).Token);
        await Await.EndpointsAsync(source, e => e.Count == 2, "2 endpoints after scale-down");
        pods = [.. cluster.GetPods(ns: "finance").Select(p => p.Name)];
        Assert.True(pods.SetEquals(await PodsAnsweringAsync(client, 8)));

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
    }

    [Fact]
    public async Task A_service_with_client_ip_session_affinity_keeps_this_client_on_one_pod()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("sticky", 3);
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata:
              name: sticky
            spec:
              selector: {app: sticky}
              sessionAffinity: ClientIP
              ports:
              - {name: http, port: 80, targetPort: http}
            """);
        await cluster.WaitForReadyEndpointsAsync("sticky", 3, cancellationToken: new CancellationTokenSource(Await.DefaultTimeout).Token);
        var services = new ServiceCollection();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        services.AddHttpClient("sticky", c => c.BaseAddress = new Uri("http://sticky.default")).AddClientLb();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("sticky");

        // kube-proxy's ClientIP affinity: every request of this client goes to one pod, as long as it is ready.
        Assert.Single(await PodsAnsweringAsync(client, 15));
        ServiceBalancer balancer = provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://sticky.default");
        Assert.Equal("Sticky", balancer.Options.Policy);
    }

    [Fact]
    public async Task The_health_check_is_degraded_when_a_watched_service_has_no_endpoints()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "empty", 0);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        services.AddHealthChecks().AddClientLbKubernetes();
        await using ServiceProvider provider = services.BuildServiceProvider();
        IEndpointSource source = provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://empty.default").Source;
        await Await.SourceAsync(source, s => s.Current is { Endpoints.Length: 0 }, "an empty snapshot");
        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, report.Status);
        Assert.Contains("empty.default: no endpoints", report.Entries["clientlb-kubernetes"].Description);

        // A service whose only pod is not ready cannot take traffic either.
        await cluster.ScaleDeploymentAsync("empty", 1);
        await Await.SourceAsync(source, s => s.Current is { Endpoints.Length: 1 }, "one endpoint");
        report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
        await cluster.SetPodReadyAsync(cluster.GetPods("app=empty")[0].Name, false);
        await Await.SourceAsync(source, s => s.Current is { Endpoints: [{ Conditions.Serving: false }] }, "the endpoint not serving");
        report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, report.Status);
        Assert.Contains("empty.default: no ready or serving endpoints", report.Entries["clientlb-kubernetes"].Description);
    }

    [Fact]
    public async Task Without_any_configuration_the_factory_serves_nothing_so_later_sources_can()
    {
        string home = Directory.CreateTempSubdirectory("clientlb-home-").FullName;
        try
        {
            var factory = new Kubernetes.Sources.KubernetesEndpointSourceFactory(Microsoft.Extensions.Options.Options.Create(new KubernetesSourceOptions
            {
                InCluster = new Kubernetes.Config.InClusterConfig { Environment = k => k == "HOME" ? home : null },
            }));
            Assert.Null(factory.TryCreate(ServiceName.Parse("http://web.default")));
            await factory.DisposeAsync();
        }
        finally
        {
            Directory.Delete(home, true);
        }
    }

    [Fact]
    public void Invalid_options_are_rejected_naming_each_option()
    {
        var services = new ServiceCollection();
        services.AddClientLbKubernetes(o =>
        {
            o.NamespaceWatchThreshold = 0;
            o.WatchTimeout = TimeSpan.FromMilliseconds(10);
            o.MaxReconnectDelay = TimeSpan.FromMilliseconds(1);
            o.FallbackOnForbidden = "kubernetes";
        });
        using ServiceProvider provider = services.BuildServiceProvider();
        OptionsValidationException ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => provider.GetRequiredService<Kubernetes.Sources.KubernetesEndpointSourceFactory>());
        foreach (string option in new[] { "NamespaceWatchThreshold", "WatchTimeout", "MaxReconnectDelay", "FallbackOnForbidden" })
        {
            Assert.Contains(option, ex.Message);
        }
    }
}
