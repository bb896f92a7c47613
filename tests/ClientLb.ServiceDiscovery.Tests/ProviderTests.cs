using System.Net;
using ClientLb.Balancing;
using ClientLb.Sandbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.ServiceDiscovery;

namespace ClientLb.ServiceDiscovery.Tests;

/// <summary>MESD's resolver and HttpClient integration served by ClientLb's provider over the sandbox.</summary>
public class ProviderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static async Task<SandboxCluster> DeployAsync(string name, int replicas)
    {
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero });
        await cluster.CreateDeploymentAsync(name, replicas);
        await cluster.CreateServiceAsync(name, name, 80, 8080);
        using var ready = new CancellationTokenSource(Timeout);
        await cluster.WaitForReadyEndpointsAsync(name, replicas, cancellationToken: ready.Token);
        return cluster;
    }

    private static ServiceProvider Build(SandboxCluster? cluster, Dictionary<string, string?>? configuration = null, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection();
        // MESD's configuration provider needs an IConfiguration, as every host has.
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(configuration ?? []).Build());
        services.AddServiceDiscovery().AddClientLbEndpointProvider(k => k.KubeconfigPath = cluster?.KubeconfigPath);
        more?.Invoke(services);
        return services.BuildServiceProvider();
    }

    private static HashSet<string> PodEndpoints(SandboxCluster cluster, string app) =>
        [.. cluster.GetPods("app=" + app).Where(p => p.Ready).Select(p => p.IP + ":8080")];

    [Fact]
    public async Task The_resolver_returns_the_ready_pods_and_its_change_token_fires_on_a_scale()
    {
        await using SandboxCluster cluster = await DeployAsync("greeter", 2);
        await using ServiceProvider provider = Build(cluster);
        ServiceEndpointResolver resolver = provider.GetRequiredService<ServiceEndpointResolver>();

        ServiceEndpointSource first = await resolver.GetEndpointsAsync("http://greeter.default", CancellationToken.None);
        Assert.True(PodEndpoints(cluster, "greeter").SetEquals(first.Endpoints.Select(e => e.EndPoint.ToString()!)));
        Assert.All(first.Endpoints, e => Assert.Equal("greeter.default", e.Features.Get<IHostNameFeature>()?.HostName));
        Assert.False(first.ChangeToken.HasChanged);

        await cluster.ScaleDeploymentAsync("greeter", 4);
        using var scaled = new CancellationTokenSource(Timeout);
        await cluster.WaitForReadyEndpointsAsync("greeter", 4, cancellationToken: scaled.Token);
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using IDisposable registration = first.ChangeToken.RegisterChangeCallback(_ => changed.TrySetResult(), null);
        await changed.Task.WaitAsync(Timeout);

        // The watcher re-reads after the token fired; the resolver serves the four pods.
        DateTime deadline = DateTime.UtcNow + Timeout;
        HashSet<string> expected = PodEndpoints(cluster, "greeter");
        while (true)
        {
            ServiceEndpointSource now = await resolver.GetEndpointsAsync("http://greeter.default", CancellationToken.None);
            if (expected.SetEquals(now.Endpoints.Select(e => e.EndPoint.ToString()!)))
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "resolver still serves " + string.Join(", ", now.Endpoints));
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task An_http_client_with_AddServiceDiscovery_reaches_the_pods()
    {
        await using SandboxCluster cluster = await DeployAsync("greeter", 3);
        await using ServiceProvider provider = Build(cluster, more: s => s.AddHttpClient("greeter", c => c.BaseAddress = new Uri("http://greeter.default")).AddServiceDiscovery());
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("greeter");
        var seen = new HashSet<string>();
        for (int i = 0; i < 12; i++)
        {
            seen.Add(await client.GetStringAsync("/"));
        }
        Assert.True(seen.SetEquals(cluster.GetPods("app=greeter").Select(p => p.Name)), string.Join(", ", seen));
    }

    [Fact]
    public async Task A_service_whose_pods_are_not_ready_fails_naming_the_reason()
    {
        await using SandboxCluster cluster = await DeployAsync("idle", 1);
        await cluster.SetPodReadyAsync(cluster.GetPods("app=idle")[0].Name, false);
        using var notReady = new CancellationTokenSource(Timeout);
        await cluster.WaitForReadyEndpointsAsync("idle", 0, cancellationToken: notReady.Token);
        await using ServiceProvider provider = Build(cluster);
        ServiceEndpointResolver resolver = provider.GetRequiredService<ServiceEndpointResolver>();

        NoEndpointsException error = await Assert.ThrowsAsync<NoEndpointsException>(() => resolver.GetEndpointsAsync("http://idle.default", CancellationToken.None).AsTask());
        Assert.Contains("idle.default", error.Message);
        Assert.Contains("not ready", error.Reason);
    }

    [Fact]
    public async Task A_service_configured_for_MESD_keeps_its_configured_endpoints()
    {
        await using SandboxCluster cluster = await DeployAsync("greeter", 2);
        await using ServiceProvider provider = Build(cluster, new() { ["Services:greeter:http:0"] = "127.0.0.9:5009" });
        ServiceEndpointResolver resolver = provider.GetRequiredService<ServiceEndpointResolver>();

        ServiceEndpointSource endpoints = await resolver.GetEndpointsAsync("http://greeter", CancellationToken.None);
        Assert.Equal("127.0.0.9:5009", Assert.Single(endpoints.Endpoints).EndPoint.ToString());
    }

    [Fact]
    public async Task Addresses_and_localhost_are_left_to_the_pass_through_provider()
    {
        await using ServiceProvider provider = Build(null);
        ClientLbEndpointProviderFactory factory = provider.GetServices<IServiceEndpointProviderFactory>().OfType<ClientLbEndpointProviderFactory>().Single();
        foreach (string address in new[] { "http://127.0.0.1:5000", "http://[::1]:5000", "http://localhost:5000" })
        {
            Assert.True(ServiceEndpointQuery.TryParse(address, out ServiceEndpointQuery? query));
            Assert.False(factory.TryCreateProvider(query!, out _), address);
        }
        Assert.IsType<IPEndPoint>(ClientLbEndpointProvider.ToEndPoint(ClientLb.Endpoints.Endpoint.Parse("127.0.0.2:80")));
        Assert.Equal("https://127.0.0.2:8443/", ((UriEndPoint)ClientLbEndpointProvider.ToEndPoint(ClientLb.Endpoints.Endpoint.Parse("https://127.0.0.2:8443"))).Uri.ToString());
    }
}
