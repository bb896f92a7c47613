using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Kubectl;

/// <summary>v1 Endpoints as the seed articles read them (<c>kubectl get endpoints my-service</c>), kept by the controller.</summary>
public class EndpointsTests
{
    [Fact]
    public async Task Get_endpoints_lists_ready_pods_and_unready_ones_separately_and_refuses_user_writes()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.FromSeconds(1) });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await kubectl.RunAsync(["create", "-f", "-"], Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        IReadOnlyList<SandboxPod> pods = cluster.GetPods("app=my-app");
        await cluster.WaitUntilAsync(c => ReadyIps(c).Count == 2, Deadline.In());

        string table = await kubectl.OkAsync("get", "endpoints", "my-service");
        Assert.Matches(@"NAME\s+ENDPOINTS\s+AGE", table);
        foreach (SandboxPod p in pods)
        {
            Assert.Contains($"{p.IP}:80", table);
        }

        await cluster.SetPodReadyAsync(pods[0].Name, false);
        await cluster.WaitUntilAsync(c => ReadyIps(c).Count == 1, Deadline.In());
        JsonObject ep = JsonNode.Parse(await kubectl.OkAsync("get", "ep", "my-service", "-o", "json"))!.AsObject();
        JsonNode? subset = ep.Arr("subsets").Single();
        Assert.Equal(pods[1].IP, subset.S("addresses", "0", "ip"));
        Assert.Equal(pods[0].IP, subset.S("notReadyAddresses", "0", "ip"));
        Assert.Equal(pods[0].Name, subset.S("notReadyAddresses", "0", "targetRef", "name"));
        Assert.Equal(80, subset.L("ports", "0", "port"));
        Assert.Equal("TCP", subset.S("ports", "0", "protocol"));

        (int exit, string _, string? stderr) = await kubectl.RunAsync(["delete", "endpoints", "my-service"]);
        Assert.NotEqual(0, exit);
        Assert.Contains("endpoints \"my-service\" cannot be changed by a client (DELETE)", stderr);
        Assert.NotNull(await cluster.GetAsync("v1", "Endpoints", "my-service"));

        await kubectl.OkAsync("delete", "svc", "my-service");
        await cluster.WaitUntilAsync(c => c.GetAsync("v1", "Endpoints", "my-service").Result is null, Deadline.In());
    }

    private static List<string> ReadyIps(SandboxCluster c) =>
        c.GetAsync("v1", "Endpoints", "my-service").Result is { } ep
            ? ep.Arr("subsets").SelectMany(s => s.Arr("addresses")).Select(a => a.S("ip")!).ToList()
            : [];

    [Fact]
    public async Task Past_1000_addresses_the_endpoints_are_truncated_and_annotated_over_capacity()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, MaxEndpointsPerSlice = 1000 });
        // Pods without container ports start no server: only addresses, so 1001 of them stay cheap.
        await cluster.ApplyManifestAsync("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: big}
            spec:
              replicas: 1001
              selector: {matchLabels: {app: big}}
              template:
                metadata: {labels: {app: big}}
                spec: {containers: [{name: c, image: x}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: big}
            spec: {selector: {app: big}, ports: [{port: 80}]}
            """);
        await cluster.WaitForReadyEndpointsAsync("big", 1001, cancellationToken: Deadline.In(120));
        await cluster.WaitUntilAsync(c => c.GetAsync("v1", "Endpoints", "big").Result?.S("metadata", "annotations", "endpoints.kubernetes.io/over-capacity") == "truncated", Deadline.In(60));
        JsonObject ep = (await cluster.GetAsync("v1", "Endpoints", "big"))!;
        Assert.Equal(1000, ep.Arr("subsets").Sum(s => s.Arr("addresses").Count));

        await cluster.ScaleDeploymentAsync("big", 1000);
        await cluster.WaitUntilAsync(c => c.GetAsync("v1", "Endpoints", "big").Result is { } e && e.S("metadata", "annotations", "endpoints.kubernetes.io/over-capacity") is null
            && e.Arr("subsets").Sum(s => s.Arr("addresses").Count) == 1000, Deadline.In(60));
    }
}
