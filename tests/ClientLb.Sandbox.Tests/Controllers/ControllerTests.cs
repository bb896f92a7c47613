using System.Net;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;
using ClientLb.Testing;

namespace ClientLb.Sandbox.Tests.Controllers;

public class ControllerTests
{
    private static List<JsonNode> Endpoints(IEnumerable<JsonObject> slices) => slices.SelectMany(s => s.Arr("endpoints")).Select(e => e!).ToList();

    private static bool Cond(JsonNode e, string name) => e.At("conditions", name)!.GetValue<bool>();

    [Fact]
    public async Task Deployment_pods_are_real_http_servers_on_their_own_loopback_addresses()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("web", 3, containerPort: 8080);
        await cluster.WaitUntilAsync(c => c.GetPods("app=web").Count(p => p.Ready) == 3, Deadline.In());
        IReadOnlyList<SandboxPod> pods = cluster.GetPods("app=web");
        Assert.Equal(3, pods.Select(p => p.IP).Distinct().Count());
        Assert.All(pods, p => Assert.StartsWith("127.244.", p.IP));
        Assert.Equal(3, pods.Select(p => p.NodeName).Distinct().Count()); // spread over the three nodes
        using var http = new HttpClient();
        foreach (SandboxPod pod in pods)
        {
            using HttpResponseMessage resp = await http.GetAsync(pod.GetUri());
            Assert.Equal(pod.Name, await resp.Content.ReadAsStringAsync());
            Assert.Equal(pod.IP, resp.Headers.GetValues("X-Pod-IP").Single());
        }
        // The Deployment's status follows its pods' readiness on the controller's next pass, as in Kubernetes: wait for it
        // rather than read it the moment the pods turned ready.
        await cluster.WaitUntilAsync(c => c.GetAsync("apps/v1", "Deployment", "web").Result.L("status", "readyReplicas") == 3, Deadline.In());
        JsonObject deployment = (await cluster.GetAsync("apps/v1", "Deployment", "web"))!;
        Assert.Equal(3, deployment.L("status", "readyReplicas"));
        Assert.All(pods, p => Assert.Matches("^web-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}$", p.Name));
        Assert.Empty(cluster.ControllerErrors);
    }

    [Fact]
    public async Task Endpoint_slices_are_managed_like_kubernetes_with_named_ports_zones_and_max_size()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { MaxEndpointsPerSlice = 2, DefaultTerminationGracePeriod = TimeSpan.Zero });
        await cluster.CreateDeploymentAsync("api", 5, containerPort: 9090);
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata:
              name: api
              labels: {team: core}
            spec:
              selector: {app: api}
              ports:
                - name: web
                  port: 80
                  targetPort: http
            """);
        await cluster.WaitForReadyEndpointsAsync("api", 5, cancellationToken: Deadline.In());
        IReadOnlyList<JsonObject> slices = await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice", labelSelector: "kubernetes.io/service-name=api");
        Assert.Equal(3, slices.Count); // 2 + 2 + 1
        Assert.All(slices, s =>
        {
            Assert.InRange(s.Arr("endpoints").Count, 1, 2);
            Assert.Equal("endpointslice-controller.k8s.io", s.S("metadata", "labels", "endpointslice.kubernetes.io/managed-by"));
            Assert.Equal("core", s.S("metadata", "labels", "team"));
            Assert.StartsWith("api-", s.S("metadata", "name"));
            Assert.Equal("Service", s.S("metadata", "ownerReferences", "0", "kind"));
            Assert.Equal(("web", 9090L, "TCP"), (s.S("ports", "0", "name"), s.L("ports", "0", "port")!.Value, s.S("ports", "0", "protocol")));
            Assert.Equal("IPv4", s.S("addressType"));
        });
        List<JsonNode> endpoints = Endpoints(slices);
        var nodes = new Dictionary<string, string> { ["sandbox-node-a"] = "zone-a", ["sandbox-node-b"] = "zone-b", ["sandbox-node-c"] = "zone-c" };
        Assert.All(endpoints, e =>
        {
            Assert.True(Cond(e, "ready") && Cond(e, "serving") && !Cond(e, "terminating"));
            Assert.Equal(nodes[e.S("nodeName")!], e.S("zone"));
            Assert.Equal("Pod", e.S("targetRef", "kind"));
            Assert.Null(e.At("hints"));
        });

        // Scaling down (pods go at once with a zero grace period) empties and removes all but one slice.
        await cluster.ScaleDeploymentAsync("api", 1);
        await cluster.WaitUntilAsync(c => c.ListAsync("discovery.k8s.io/v1", "EndpointSlice", labelSelector: "kubernetes.io/service-name=api").Result is { Count: 1 } s
            && Endpoints(s).Count == 1, Deadline.In());
        Assert.Empty(cluster.ControllerErrors);
    }

    [Fact]
    public async Task Zone_hints_when_the_service_asks_for_topology_aware_routing()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("zonal", 3);
        JsonObject svc = (await cluster.CreateServiceAsync("zonal", "zonal", port: 80, targetPort: 8080))!;
        await cluster.WaitForReadyEndpointsAsync("zonal", 3, cancellationToken: Deadline.In());
        Assert.All(Endpoints(await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice")), e => Assert.Null(e.At("hints")));
        svc["metadata"]!["annotations"] = new JsonObject { ["service.kubernetes.io/topology-mode"] = "Auto" };
        await cluster.ApplyManifestAsync(svc.ToJsonString()); // JSON is YAML
        await cluster.WaitUntilAsync(c => Endpoints(c.ListAsync("discovery.k8s.io/v1", "EndpointSlice").Result).All(e => e.At("hints") is not null), Deadline.In());
        Assert.All(Endpoints(await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice")), e => Assert.Equal(e.S("zone"), e.S("hints", "forZones", "0", "name")));
    }

    [Fact]
    public async Task Traffic_distribution_hints_each_ready_endpoint_with_its_own_zone_and_for_prefer_same_node_its_node()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("near", 3);
        JsonObject svc = (await cluster.CreateServiceAsync("near", "near", port: 80, targetPort: 8080))!;
        await cluster.WaitForReadyEndpointsAsync("near", 3, cancellationToken: Deadline.In());
        async Task<List<JsonNode>> HintedWhenAsync(string distribution, Func<JsonNode, bool> done)
        {
            svc = (await cluster.GetAsync("v1", "Service", "near"))!;
            svc["spec"]!["trafficDistribution"] = distribution;
            await cluster.ApplyManifestAsync(svc.ToJsonString());
            await cluster.WaitUntilAsync(c => Endpoints(c.ListAsync("discovery.k8s.io/v1", "EndpointSlice").Result).All(done), Deadline.In());
            return Endpoints(await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice"));
        }

        List<JsonNode> sameNode = await HintedWhenAsync("PreferSameNode", e => e.At("hints", "forNodes") is not null);
        Assert.All(sameNode, e => Assert.Equal((e.S("zone"), e.S("nodeName")), (e.S("hints", "forZones", "0", "name"), e.S("hints", "forNodes", "0", "name"))));
        Assert.Equal(3, sameNode.Select(e => e.S("nodeName")).Distinct().Count());

        // PreferSameZone is PreferClose's newer name: zone hints only.
        List<JsonNode> sameZone = await HintedWhenAsync("PreferSameZone", e => e.At("hints", "forNodes") is null);
        Assert.All(sameZone, e => Assert.Equal(e.S("zone"), e.S("hints", "forZones", "0", "name")));

        // Not ready: no hints (the controller hints ready endpoints only).
        await HintedWhenAsync("PreferSameNode", e => e.At("hints", "forNodes") is not null);
        SandboxPod pod = cluster.GetPods("app=near")[0];
        await cluster.SetPodReadyAsync(pod.Name, false);
        await cluster.WaitForReadyEndpointsAsync("near", 2, cancellationToken: Deadline.In());
        List<JsonNode> endpoints = Endpoints(await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice"));
        Assert.Null(endpoints.Single(e => e.S("targetRef", "name") == pod.Name).At("hints"));
        Assert.Equal(2, endpoints.Count(e => e.At("hints", "forNodes") is not null));
        Assert.Empty(cluster.ControllerErrors);
    }

    [Fact]
    public async Task Readiness_can_be_flipped_and_shows_in_endpoint_conditions()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("r", 2);
        await cluster.CreateServiceAsync("r", "r", targetPort: 8080);
        await cluster.WaitForReadyEndpointsAsync("r", 2, cancellationToken: Deadline.In());
        SandboxPod pod = cluster.GetPods("app=r")[0];
        await cluster.SetPodReadyAsync(pod.Name, false);
        await cluster.WaitForReadyEndpointsAsync("r", 1, cancellationToken: Deadline.In());
        JsonNode e = Endpoints(await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice")).Single(x => x.S("targetRef", "name") == pod.Name);
        Assert.False(Cond(e, "ready"));
        Assert.False(Cond(e, "serving"));
        Assert.False(Cond(e, "terminating"));
        Assert.False(cluster.GetPods("app=r").Single(p => p.Name == pod.Name).Ready);
        await cluster.SetPodReadyAsync(pod.Name, true);
        await cluster.WaitForReadyEndpointsAsync("r", 2, cancellationToken: Deadline.In());
        SandboxApiException missing = await Assert.ThrowsAsync<SandboxApiException>(() => cluster.SetPodReadyAsync("nope", true));
        Assert.Equal(404, missing.StatusCode);
    }

    [Fact]
    public async Task Deleted_pod_terminates_for_its_grace_period_on_the_injected_clock()
    {
        var clock = new TrackingTimeProvider();
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { TimeProvider = clock });
        await cluster.CreateDeploymentAsync("g", 1);
        await cluster.CreateServiceAsync("g", "g", targetPort: 8080);
        await cluster.WaitForReadyEndpointsAsync("g", 1, cancellationToken: Deadline.In());
        SandboxPod pod = cluster.GetPods("app=g").Single();
        int timersBefore = clock.ArmedTimers;

        await cluster.DeletePodAsync(pod.Name, gracePeriod: TimeSpan.FromSeconds(30));
        // Terminating: not ready, still serving, still answering; a replacement comes up meanwhile.
        await cluster.WaitUntilAsync(c => Endpoints(c.ListAsync("discovery.k8s.io/v1", "EndpointSlice").Result)
            .Any(e => e.S("targetRef", "name") == pod.Name && Cond(e, "terminating")), Deadline.In());
        JsonNode e = Endpoints(await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice")).Single(x => x.S("targetRef", "name") == pod.Name);
        Assert.Equal((false, true, true), (Cond(e, "ready"), Cond(e, "serving"), Cond(e, "terminating")));
        using var http = new HttpClient();
        Assert.Equal(pod.Name, await http.GetStringAsync(pod.GetUri()));
        Assert.True(cluster.GetPods().Single(p => p.Name == pod.Name).Terminating);

        await cluster.WaitUntilAsync(c => clock.ArmedTimers > timersBefore, Deadline.In()); // the grace timer is armed
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Contains(cluster.GetPods(), p => p.Name == pod.Name);
        clock.Advance(TimeSpan.FromSeconds(1));
        await cluster.WaitUntilAsync(c => c.GetPods().All(p => p.Name != pod.Name), Deadline.In());
        await cluster.WaitUntilAsync(c => Endpoints(c.ListAsync("discovery.k8s.io/v1", "EndpointSlice").Result).All(x => x.S("targetRef", "name") != pod.Name), Deadline.In());
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(pod.GetUri()));
    }

    [Fact]
    public async Task Selectorless_services_keep_user_slices_and_headless_services_are_labelled()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: external}
            spec:
              ports: [{name: https, port: 443}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: external-1
              labels: {kubernetes.io/service-name: external}
            addressType: IPv4
            ports: [{name: https, port: 8443}]
            endpoints:
              - addresses: [127.0.0.7]
                conditions: {ready: true}
            """);
        await cluster.CreateDeploymentAsync("db", 2);
        await cluster.CreateServiceAsync("db", "db", targetPort: 8080, headless: true);
        await cluster.WaitForReadyEndpointsAsync("db", 2, cancellationToken: Deadline.In());
        IReadOnlyList<JsonObject> slices = await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice");
        JsonObject user = slices.Single(s => s.S("metadata", "labels", "kubernetes.io/service-name") == "external");
        Assert.Equal("external-1", user.S("metadata", "name"));
        Assert.Equal("127.0.0.7", user.S("endpoints", "0", "addresses", "0"));
        Assert.Equal("", slices.Single(s => s.S("metadata", "labels", "kubernetes.io/service-name") == "db").S("metadata", "labels", "service.kubernetes.io/headless"));

        SandboxApiException bad = await Assert.ThrowsAsync<SandboxApiException>(() => cluster.ApplyManifestAsync("""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: bad}
            addressType: IPv4
            endpoints: [{addresses: [not-an-ip]}]
            """));
        Assert.Equal(422, bad.StatusCode);
        Assert.Contains("endpoints[0].addresses[0]", bad.Message);
    }

    [Fact]
    public async Task Scale_subresource_over_http_and_cascading_deletion()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero });
        using var api = new ApiClient(cluster.CreateHttpClient());
        await cluster.CreateDeploymentAsync("s", 1);
        string path = "/apis/apps/v1/namespaces/default/deployments/s/scale";
        JsonObject scale = (await api.GetAsync(path)).Body;
        Assert.Equal(("Scale", "autoscaling/v1", 1L, "app=s"), (scale.S("kind"), scale.S("apiVersion"), scale.L("spec", "replicas")!.Value, scale.S("status", "selector")));
        (HttpStatusCode code, JsonObject? patched) = await api.PatchAsync(path, new JsonObject { ["spec"] = new JsonObject { ["replicas"] = 4 } });
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(4, patched.L("spec", "replicas"));
        await cluster.WaitUntilAsync(c => c.GetPods("app=s").Count(p => p.Ready) == 4, Deadline.In());
        (HttpStatusCode Code, JsonObject Body) negative = await api.PutAsync(path, new JsonObject { ["spec"] = new JsonObject { ["replicas"] = -1 } });
        Assert.Equal((HttpStatusCode)422, negative.Code);

        await api.DeleteAsync("/apis/apps/v1/namespaces/default/deployments/s");
        await cluster.WaitUntilAsync(c => c.GetPods("app=s").Count == 0, Deadline.In());
    }

    [Fact]
    public async Task Deleting_a_namespace_removes_its_contents_then_itself()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero, Namespaces = ["team"] });
        await cluster.CreateDeploymentAsync("w", 2, ns: "team");
        await cluster.CreateServiceAsync("w", "w", ns: "team", targetPort: 8080);
        await cluster.WaitForReadyEndpointsAsync("w", 2, "team", Deadline.In());
        await cluster.DeleteAsync("v1", "Namespace", "team", ns: null);
        SandboxApiException refused = await Assert.ThrowsAsync<SandboxApiException>(() => cluster.CreateServiceAsync("late", "x", ns: "team"));
        Assert.True(refused.StatusCode is 403 or 404, refused.Message);
        await cluster.WaitUntilAsync(c => c.GetAsync("v1", "Namespace", "team", null).Result is null, Deadline.In());
        Assert.Empty(cluster.GetPods(ns: "team"));
        Assert.Empty(await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice", "team"));
        SandboxApiException protectedNs = await Assert.ThrowsAsync<SandboxApiException>(() => cluster.DeleteAsync("v1", "Namespace", "default", ns: null));
        Assert.Equal(403, protectedNs.StatusCode);
    }
}
