using System.Text.Json.Nodes;
using ClientLb.Endpoints;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Sandbox;
using ClientLb.Sources;

namespace ClientLb.Kubernetes.Tests.Sandbox;

/// <summary>The source follows what the sandbox's controllers do to EndpointSlices.</summary>
public class EndpointTrackingTests
{
    private static bool ReadyAre(IReadOnlyList<Endpoint> endpoints, HashSet<string> ips, int port = 8080) =>
        endpoints.Where(e => e.Conditions.Ready).Select(e => e.Host).ToHashSet().SetEquals(ips) && endpoints.All(e => e.Port == port);

    [Fact]
    public async Task Endpoints_follow_scale_up_and_down_with_zone_and_node()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero });
        await TestFactory.DeployAsync(cluster, "web", 2);
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.EndpointsAsync(source, e => e.Count == 2 && ReadyAre(e, TestFactory.PodIps(cluster, "web")), "2 endpoints on the target port 8080");

        IReadOnlyList<SandboxPod> pods = cluster.GetPods("app=web");
        Dictionary<string, string> zoneOfNode = new SandboxOptions().Nodes.ToDictionary(n => n.Name, n => n.Zone);
        foreach (Endpoint endpoint in source.Current!.Endpoints)
        {
            SandboxPod pod = pods.Single(p => p.IP == endpoint.Host);
            Assert.NotNull(pod.NodeName);
            Assert.Equal(pod.NodeName, endpoint.NodeName);
            Assert.Equal(zoneOfNode[pod.NodeName], endpoint.Zone);
        }

        await cluster.ScaleDeploymentAsync("web", 5);
        await cluster.WaitForReadyEndpointsAsync("web", 5, cancellationToken: new CancellationTokenSource(Await.DefaultTimeout).Token);
        await Await.EndpointsAsync(source, e => e.Count == 5 && ReadyAre(e, TestFactory.PodIps(cluster, "web")), "5 endpoints after scale-up");

        await cluster.ScaleDeploymentAsync("web", 1);
        await cluster.WaitUntilAsync(c => c.GetPods("app=web").Count == 1, new CancellationTokenSource(Await.DefaultTimeout).Token);
        await Await.EndpointsAsync(source, e => e.Count == 1 && ReadyAre(e, TestFactory.PodIps(cluster, "web")), "1 endpoint after scale-down");
        Assert.True(source.Status.IsHealthy);
    }

    [Fact]
    public async Task A_deleted_pod_stays_as_a_serving_terminating_endpoint_for_its_grace_period()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "web", 1);
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        await using IEndpointSource source = factory.Source("http://web.default");
        string victim = cluster.GetPods("app=web").Single().IP!;
        await Await.EndpointsAsync(source, e => e.Count == 1, "the pod");

        await cluster.DeletePodAsync(cluster.GetPods("app=web").Single().Name, gracePeriod: TimeSpan.FromSeconds(60));
        EndpointSnapshot? snapshot = await Await.EndpointsAsync(source,
            e => e.Any(x => x.Host == victim && x.Conditions == new EndpointConditions(false, true, true)),
            "the deleted pod as ready=false serving=true terminating=true");
        // The deployment's replacement comes up beside it; until then the terminating one is the kube-proxy fallback.
        await Await.EndpointsAsync(source, e => e.Count(x => x.Conditions.Ready) == 1 && e.Any(x => x.Host == victim && x.Conditions.Terminating),
            "the replacement ready while the old pod is still terminating");
        Assert.NotNull(snapshot);
    }

    [Fact]
    public async Task Readiness_flips_reach_the_endpoint_conditions()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await TestFactory.DeployAsync(cluster, "web", 2);
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        await using IEndpointSource source = factory.Source("web.default:http");
        await Await.EndpointsAsync(source, e => e.Count(x => x.Conditions.Ready) == 2, "2 ready");
        SandboxPod pod = cluster.GetPods("app=web")[0];

        await cluster.SetPodReadyAsync(pod.Name, false);
        await Await.EndpointsAsync(source, e => e.Single(x => x.Host == pod.IP).Conditions == new EndpointConditions(false, false, false), "the pod not ready");
        Assert.Equal(2, source.Current!.Endpoints.Length);

        await cluster.SetPodReadyAsync(pod.Name, true);
        await Await.EndpointsAsync(source, e => e.Single(x => x.Host == pod.IP).Conditions.Ready, "the pod ready again");
    }

    [Fact]
    public async Task A_service_over_many_slices_is_merged_and_each_slice_change_replaces_only_its_slice()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { MaxEndpointsPerSlice = 40, DefaultTerminationGracePeriod = TimeSpan.Zero });
        await TestFactory.DeployAsync(cluster, "big", 105);
        IReadOnlyList<JsonObject> slices = await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice", "default", "kubernetes.io/service-name=big");
        Assert.True(slices.Count >= 3, $"expected at least 3 slices, got {slices.Count}");
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        await using IEndpointSource source = factory.Source("http://big.default");
        await Await.EndpointsAsync(source, e => e.Count == 105 && ReadyAre(e, TestFactory.PodIps(cluster, "big")), "105 endpoints from every slice");

        // One pod's readiness changes one slice; the other slices' endpoints stay as they were.
        SandboxPod pod = cluster.GetPods("app=big")[17];
        await cluster.SetPodReadyAsync(pod.Name, false);
        await Await.EndpointsAsync(source, e => e.Count == 105 && e.Count(x => !x.Conditions.Ready) == 1 && !e.Single(x => x.Host == pod.IP).Conditions.Ready, "one endpoint not ready");

        await cluster.ScaleDeploymentAsync("big", 60);
        await cluster.WaitUntilAsync(c => c.GetPods("app=big").Count == 60, new CancellationTokenSource(Await.DefaultTimeout).Token);
        await Await.EndpointsAsync(source, e => e.Count == 60 && e.Select(x => x.Host).ToHashSet().SetEquals(TestFactory.PodIps(cluster, "big", readyOnly: false)), "60 endpoints after scale-down");
    }

    [Fact]
    public async Task Topology_hints_and_service_settings_are_read()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("zoned", 3);
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata:
              name: zoned
              annotations:
                service.kubernetes.io/topology-mode: Auto
            spec:
              selector: {app: zoned}
              sessionAffinity: ClientIP
              trafficDistribution: PreferClose
              ports:
              - {name: http, port: 80, targetPort: http}
            """);
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        await using IEndpointSource source = factory.Source("http://zoned.default");
        await Await.EndpointsAsync(source, e => e.Count == 3 && e.All(x => x.Zone is not null && x.ZoneHints.SequenceEqual([x.Zone])), "3 endpoints with zone hints");
        Assert.All(source.Current!.Endpoints, e => Assert.Equal(8080, e.Port)); // the named targetPort "http" resolved per pod
        KubernetesServiceInfo info = ((IKubernetesEndpointSource)source).ServiceInfo!;
        Assert.Equal(("ClusterIP", false, "ClientIP", "PreferClose"), (info.Type, info.IsHeadless, info.SessionAffinity, info.TrafficDistribution));
        Assert.Equal(TimeSpan.FromSeconds(10800), ((ISessionAffinitySource)source).ClientIpAffinityTimeout);
    }

    [Fact]
    public async Task A_missing_service_or_port_is_an_error_naming_it_and_a_later_service_is_picked_up()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster);
        await using IEndpointSource missing = factory.Source("http://late.default");
        EndpointSourceException error = await Assert.ThrowsAsync<EndpointSourceException>(() => missing.GetSnapshotAsync().AsTask().WaitAsync(Await.DefaultTimeout));
        Assert.Contains("there is no Service 'late' in namespace 'default'", error.Message);

        await TestFactory.DeployAsync(cluster, "late", 1);
        await Await.EndpointsAsync(missing, e => e.Count == 1, "the service once created");

        await using IEndpointSource badPort = factory.Source("late.default:grpc");
        EndpointSourceException portError = await Assert.ThrowsAsync<EndpointSourceException>(() => badPort.GetSnapshotAsync().AsTask().WaitAsync(Await.DefaultTimeout));
        Assert.Contains("no port named 'grpc'", portError.Message);
        Assert.Contains("http 80->8080", portError.Message);
    }
}
