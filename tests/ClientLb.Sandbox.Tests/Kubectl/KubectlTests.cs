using System.Diagnostics;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Kubectl;

/// <summary>The real kubectl (1.32) as the acceptance peer of the sandbox API server.</summary>
public class KubectlTests
{
    private static JsonObject ParseJson(string text) => JsonNode.Parse(text)!.AsObject();

    private static async Task<(SandboxCluster Cluster, Infrastructure.Kubectl Kubectl)> StartAsync(SandboxOptions? options = null)
    {
        _ = Infrastructure.Kubectl.Path; // fail loudly, first, when kubectl is missing
        options ??= new SandboxOptions();
        options.DefaultTerminationGracePeriod = TimeSpan.FromSeconds(1);
        SandboxCluster cluster = await SandboxCluster.StartAsync(options);
        return (cluster, new Infrastructure.Kubectl(cluster.KubeconfigPath));
    }

    [Fact]
    public async Task Create_the_seed_manifest_then_get_pods_services_and_slices_as_json()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        (int exit, string? stdout, string? stderr) = await kubectl.RunAsync(["create", "-f", "-"], Infrastructure.Manifests.Seed);
        Assert.True(exit == 0, stderr);
        Assert.Contains("deployment.apps/my-app created", stdout);
        Assert.Contains("service/my-service created", stdout);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());

        JsonObject list = ParseJson(await kubectl.OkAsync("get", "pods,svc,endpointslices", "-n", "default", "-o", "json"));
        JsonArray items = list.Arr("items");
        var pods = items.Where(i => i.S("kind") == "Pod").ToList();
        Assert.Equal(2, pods.Count);
        Assert.All(pods, p => Assert.Equal("Running", p.S("status", "phase")));
        JsonNode? svc = items.Single(i => i.S("kind") == "Service");
        Assert.StartsWith("127.96.", svc.S("spec", "clusterIP"));
        JsonNode? slice = items.Single(i => i.S("kind") == "EndpointSlice");
        Assert.Equal("my-service", slice.S("metadata", "labels", "kubernetes.io/service-name"));
        Assert.Equal(pods.Select(p => p.S("status", "podIP")).Order(), slice.Arr("endpoints").Select(e => e.S("addresses", "0")).Order());
        Assert.Equal(80, slice.L("ports", "0", "port"));

        // The pods answer on the seed's containerPort 80 at their own addresses.
        using var http = new HttpClient();
        foreach (JsonNode? pod in pods)
        {
            Assert.Equal(pod.S("metadata", "name"), await http.GetStringAsync($"http://{pod.S("status", "podIP")}:80/"));
        }

        // Human-readable output goes through server-side tables.
        string table = await kubectl.OkAsync("get", "svc,deploy");
        Assert.Matches(@"service/my-service\s+ClusterIP\s+127\.96\.\d+\.\d+\s+<none>\s+80/TCP", table);
        Assert.Matches(@"deployment.apps/my-app\s+2/2\s+2\s+2", table);
    }

    [Fact]
    public async Task Scale_and_delete_pod_and_watch_endpoint_slices()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        await kubectl.RunAsync(["create", "-f", "-"], Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());

        using Process watch = kubectl.StartStreaming("get", "endpointslices", "-w", "--output-watch-events", "-o", "custom-columns=EVENT:.type,NAME:.object.metadata.name,COUNT:.object.endpoints[*].addresses[0]");
        try
        {
            string? header = await watch.StandardOutput.ReadLineAsync(Deadline.In());
            Assert.Contains("EVENT", header);
            string? initial = await watch.StandardOutput.ReadLineAsync(Deadline.In());
            Assert.StartsWith("ADDED", initial);

            Assert.Contains("scaled", await kubectl.OkAsync("scale", "deployment", "my-app", "--replicas=5"));
            await cluster.WaitForReadyEndpointsAsync("my-service", 5, cancellationToken: Deadline.In());
            // The watch sees the slice change as pods come: a MODIFIED line listing five addresses eventually.
            string? line;
            do
            {
                line = await watch.StandardOutput.ReadLineAsync(Deadline.In());
            }
            while (line is not null && !(line.StartsWith("MODIFIED") && line.Split(',').Length == 5));
            Assert.NotNull(line);
        }
        finally
        {
            watch.Kill(entireProcessTree: true);
            await watch.WaitForExitAsync();
        }
        JsonObject deployment = ParseJson(await kubectl.OkAsync("get", "deployment", "my-app", "-o", "json"));
        Assert.Equal(5, deployment.L("spec", "replicas"));
        await cluster.WaitUntilAsync(c => c.GetAsync("apps/v1", "Deployment", "my-app").Result.L("status", "readyReplicas") == 5, Deadline.In());

        string victim = cluster.GetPods("app=my-app")[0].Name;
        string deleted = await kubectl.OkAsync("delete", "pod", victim); // waits until the pod is gone (1 s grace)
        Assert.Contains($"pod \"{victim}\" deleted", deleted);
        Assert.DoesNotContain(cluster.GetPods(), p => p.Name == victim);
        (int exit, string _, string? stderr) = await kubectl.RunAsync(["get", "pod", victim]);
        Assert.NotEqual(0, exit);
        Assert.Contains("NotFound", stderr);
        await cluster.WaitForReadyEndpointsAsync("my-service", 5, cancellationToken: Deadline.In()); // the replacement
    }

    [Fact]
    public async Task Invalid_objects_and_duplicates_are_reported_by_kubectl()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        (int exit, string _, string? stderr) = await kubectl.RunAsync(["create", "-f", "-"], """
            apiVersion: v1
            kind: Service
            metadata: {name: Bad_Name}
            spec: {ports: [{port: 80}]}
            """);
        Assert.NotEqual(0, exit);
        Assert.Contains("is invalid", stderr);
        Assert.Contains("metadata.name", stderr);

        (exit, _, stderr) = await kubectl.RunAsync(["create", "-f", "-"], """
            apiVersion: v1
            kind: Service
            metadata: {name: typo}
            spec: {ports: [{port: 80}], selectr: {app: x}}
            """);
        Assert.NotEqual(0, exit);
        Assert.Contains("unknown field \"spec.selectr\"", stderr);

        const string ns = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team\"}}";
        Assert.Equal(0, (await kubectl.RunAsync(["create", "-f", "-"], ns)).Exit);
        (exit, _, stderr) = await kubectl.RunAsync(["create", "-f", "-"], ns);
        Assert.NotEqual(0, exit);
        Assert.Contains("AlreadyExists", stderr);

        Assert.Contains("namespace \"team\" deleted", await kubectl.OkAsync("delete", "namespace", "team"));
    }

    [Fact]
    public async Task Kubectl_over_https_with_token()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync(new SandboxOptions { UseHttps = true });
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        JsonObject nodes = ParseJson(await kubectl.OkAsync("get", "nodes", "-o", "json"));
        Assert.Equal(["zone-a", "zone-b", "zone-c"], nodes.Arr("items").Select(n => n.S("metadata", "labels", "topology.kubernetes.io/zone")));
        Assert.Equal(0, (await kubectl.RunAsync(["create", "-f", "-"], Infrastructure.Manifests.Seed.Replace("my-app", "web"))).Exit);
        await kubectl.OkAsync("expose", "deployment", "web", "--port=8080", "--target-port=80");
        await cluster.WaitForReadyEndpointsAsync("web", 2, cancellationToken: Deadline.In());
    }
}
