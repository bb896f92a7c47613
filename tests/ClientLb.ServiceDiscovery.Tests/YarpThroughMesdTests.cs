using System.Net;
using ClientLb.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace ClientLb.ServiceDiscovery.Tests;

/// <summary>
/// A real YARP proxy whose cluster destination is <c>http://greeter.default</c>, resolved through MESD's
/// <c>AddServiceDiscoveryDestinationResolver()</c> and ClientLb's provider from the sandbox's EndpointSlice watch.
/// </summary>
public class YarpThroughMesdTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_proxy_routes_to_every_pod_and_follows_a_scale_change()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero });
        await cluster.CreateDeploymentAsync("greeter", 3);
        await cluster.CreateServiceAsync("greeter", "greeter", 80, 8080);
        using (var ready = new CancellationTokenSource(Timeout))
        {
            await cluster.WaitForReadyEndpointsAsync("greeter", 3, cancellationToken: ready.Token);
        }

        await using WebApplication proxy = await StartProxyAsync(cluster.KubeconfigPath);
        using var client = new HttpClient { BaseAddress = new Uri(proxy.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()) };

        await AnswersFromAsync(client, PodNames(cluster));

        await cluster.ScaleDeploymentAsync("greeter", 5);
        using (var scaled = new CancellationTokenSource(Timeout))
        {
            await cluster.WaitForReadyEndpointsAsync("greeter", 5, cancellationToken: scaled.Token);
        }
        await AnswersFromAsync(client, PodNames(cluster));

        await cluster.ScaleDeploymentAsync("greeter", 2);
        using (var down = new CancellationTokenSource(Timeout))
        {
            await cluster.WaitUntilAsync(c => c.GetPods("app=greeter").Count == 2, down.Token);
        }
        // YARP sends no request to a removed pod once its destinations follow the scale-down (a request in the window
        // between the pod's exit and the watch event would get 502, as through kube-proxy before its rules sync).
        await DestinationsAsync(proxy, cluster);
        HashSet<string> remaining = PodNames(cluster);
        await AnswersFromAsync(client, remaining);
        for (int i = 0; i < 20; i++)
        {
            Assert.Contains(await GetPodAsync(client), remaining);
        }
    }

    /// <summary>Waits until the proxy's resolved destinations are exactly the ready pods' addresses.</summary>
    private static async Task DestinationsAsync(WebApplication proxy, SandboxCluster cluster)
    {
        IProxyStateLookup lookup = proxy.Services.GetRequiredService<IProxyStateLookup>();
        HashSet<string> expected = [.. cluster.GetPods("app=greeter").Where(p => p.Ready && !p.Terminating).Select(p => $"http://{p.IP}:8080/")];
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            Assert.True(lookup.TryGetCluster("greeter", out ClusterState? state));
            HashSet<string> actual = [.. state.Destinations.Values.Select(d => new Uri(d.Model.Config.Address).ToString())];
            if (actual.SetEquals(expected))
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"proxy destinations {string.Join(", ", actual)}; expected {string.Join(", ", expected)}");
            await Task.Delay(20);
        }
    }

    private static HashSet<string> PodNames(SandboxCluster cluster) => [.. cluster.GetPods("app=greeter").Select(p => p.Name)];

    private static async Task<string> GetPodAsync(HttpClient client)
    {
        using HttpResponseMessage response = await client.GetAsync("/hello");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Sends requests until every pod in <paramref name="pods"/> has answered (YARP round-robins), failing after the timeout.</summary>
    private static async Task AnswersFromAsync(HttpClient client, HashSet<string> pods)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (!pods.IsSubsetOf(seen))
        {
            Assert.True(DateTime.UtcNow < deadline, $"pods answering through the proxy: {string.Join(", ", seen)}; expected {string.Join(", ", pods)}");
            seen.Add(await GetPodAsync(client));
        }
    }

    private static async Task<WebApplication> StartProxyAsync(string kubeconfig)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddServiceDiscovery().AddClientLbEndpointProvider(k => k.KubeconfigPath = kubeconfig);
        builder.Services.AddReverseProxy()
            .LoadFromMemory(
                [new RouteConfig { RouteId = "greeter", ClusterId = "greeter", Match = new RouteMatch { Path = "/{**rest}" } }],
                [new ClusterConfig
                {
                    ClusterId = "greeter",
                    LoadBalancingPolicy = "RoundRobin",
                    Destinations = new Dictionary<string, DestinationConfig> { ["greeter"] = new() { Address = "http://greeter.default" } },
                }])
            .AddServiceDiscoveryDestinationResolver();
        WebApplication app = builder.Build();
        app.MapReverseProxy();
        await app.StartAsync();
        return app;
    }
}
