using System.Collections.Concurrent;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Registry;
using ClientLb.Sandbox;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Tests.Sandbox;

/// <summary>trafficDistribution hints from the sandbox's EndpointSlice controller, followed by an application's HttpClient.</summary>
public class TopologyTests
{
    /// <summary>Pods labelled app=web pinned to <paramref name="node"/> (the scheduler's choice, as a pod's nodeName).</summary>
    private static string PinnedDeployment(string name, int replicas, string node) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{name}}
        spec:
          replicas: {{replicas}}
          selector:
            matchLabels:
              app: web
              at: {{node}}
          template:
            metadata:
              labels:
                app: web
                at: {{node}}
            spec:
              nodeName: {{node}}
              containers:
              - {name: app, image: clientlb/sandbox-echo:latest, ports: [{name: http, containerPort: 8080}]}
        """;

    private static readonly string Manifest = string.Join("\n---\n",
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          selector: {app: web}
          trafficDistribution: PreferSameNode
          ports:
          - {name: http, port: 80, targetPort: 8080}
        """,
        PinnedDeployment("web-one", 2, "node-one"),
        PinnedDeployment("web-two", 1, "node-two"),
        PinnedDeployment("web-three", 2, "node-three"));

    [Fact]
    public async Task Prefer_same_node_keeps_requests_on_this_node_then_moves_to_this_zone_without_a_failed_request()
    {
        // node-one and node-two share zone-a; node-three is in zone-b. This client runs on node-one.
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions
        {
            Nodes = [new("node-one", "zone-a"), new("node-two", "zone-a"), new("node-three", "zone-b")],
        });
        await cluster.ApplyManifestAsync(Manifest);
        await cluster.WaitForReadyEndpointsAsync("web", 5, cancellationToken: new CancellationTokenSource(Await.DefaultTimeout).Token);
        var logs = new CapturingLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs));
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        services.AddClientLb(o =>
        {
            o.Locality.NodeName = "node-one";
            o.Locality.Zone = "zone-a";
        });
        services.AddHttpClient("web", c => c.BaseAddress = new Uri("http://web.default")).AddClientLb();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("web");
        ServiceBalancer balancer = provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://web.default");
        await Await.EndpointsAsync(balancer.Source, e => e.Count(x => x.Conditions.Ready && x.NodeHints.Count == 1 && x.ZoneHints.Count == 1) == 5, "5 ready endpoints with node and zone hints");
        Assert.False(balancer.Options.Topology.Enabled);

        var answered = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < 30; i++)
        {
            string pod = await client.GetStringAsync("/");
            answered[pod] = answered.GetValueOrDefault(pod) + 1;
        }
        string[] onNodeOne = [.. cluster.GetPods("at=node-one").Select(p => p.Name).Order()];
        Assert.Equal(onNodeOne, answered.Keys.Order());
        Assert.All(answered.Values, count => Assert.Equal(15, count));
        Assert.Equal(TopologyLevel.NodeHints, balancer.TopologyLevel);

        // node-one's pods go away while requests keep flowing: they move to zone-a's other node, never to zone-b.
        var outcomes = new ConcurrentQueue<(bool AfterMove, string? Pod, string? Error)>();
        bool moved = false;
        using var stop = new CancellationTokenSource();
        Task traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                bool afterMove = Volatile.Read(ref moved);
                try
                {
                    outcomes.Enqueue((afterMove, await client.GetStringAsync("/"), null));
                }
                catch (HttpRequestException ex)
                {
                    outcomes.Enqueue((afterMove, null, ex.Message));
                }
            }
        });
        await Await.UntilAsync(() => outcomes.Count >= 5, "requests flowing before the scale-down");
        await cluster.ScaleDeploymentAsync("web-one", 0);
        await Await.UntilAsync(() => balancer.TopologyLevel == TopologyLevel.ZoneHints, "zone hints once node-one has no ready endpoint");
        Volatile.Write(ref moved, true);
        await Await.UntilAsync(() => outcomes.Count(o => o.AfterMove) >= 20, "20 requests after the move");
        await stop.CancelAsync();
        await traffic;

        Assert.Empty(outcomes.Where(o => o.Error is not null).Select(o => o.Error));
        string onNodeTwo = cluster.GetPods("at=node-two").Single().Name;
        Assert.All(outcomes.Where(o => o.AfterMove), o => Assert.Equal(onNodeTwo, o.Pod));
        Assert.DoesNotContain(outcomes, o => cluster.GetPods("at=node-three").Any(p => p.Name == o.Pod));
        Assert.Contains(logs.Lines, l => l.Contains("topology now keeps traffic on node hints", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("topology now keeps traffic on zone hints (1 of 3 eligible endpoints)", StringComparison.Ordinal));
    }
}
