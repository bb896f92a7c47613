using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Protobuf;

/// <summary>kubectl 1.32's typed generators and scale, which send and accept protobuf by default, against the sandbox.</summary>
public class KubectlProtobufTests
{
    [Fact]
    public async Task Create_namespace_deployment_service_expose_scale_and_get_yaml()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.FromSeconds(1) });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);

        Assert.Contains("namespace/x created", await kubectl.OkAsync("create", "namespace", "x"));
        Assert.Equal("Active", (await cluster.GetAsync("v1", "Namespace", "x", ns: null)).S("status", "phase"));

        Assert.Contains("deployment.apps/web created", await kubectl.OkAsync("create", "deployment", "web", "--image=nginx", "--replicas=2"));
        JsonObject deployment = (await cluster.GetAsync("apps/v1", "Deployment", "web"))!;
        Assert.Equal(2, deployment.L("spec", "replicas"));
        Assert.Equal("web", deployment.S("spec", "selector", "matchLabels", "app"));
        Assert.Equal("nginx", deployment.S("spec", "template", "spec", "containers", "0", "image"));
        Assert.Null(deployment.At("metadata", "generateName")); // Go's empty values are not stored as ""

        Assert.Contains("service/x created", await kubectl.OkAsync("create", "service", "clusterip", "x", "--tcp=80:8080"));
        JsonObject svc = (await cluster.GetAsync("v1", "Service", "x"))!;
        Assert.Equal((80L, 8080L, "TCP"), (svc.L("spec", "ports", "0", "port")!.Value, svc.L("spec", "ports", "0", "targetPort")!.Value, svc.S("spec", "ports", "0", "protocol")));
        Assert.StartsWith("127.96.", svc.S("spec", "clusterIP"));

        Assert.Contains("service/web exposed", await kubectl.OkAsync("expose", "deployment", "web", "--port=80", "--target-port=8080"));
        await cluster.WaitForReadyEndpointsAsync("web", 2, cancellationToken: Deadline.In());

        Assert.Contains("deployment.apps/web scaled", await kubectl.OkAsync("scale", "deployment", "web", "--replicas=3"));
        await cluster.WaitForReadyEndpointsAsync("web", 3, cancellationToken: Deadline.In());

        string yaml = await kubectl.OkAsync("get", "deployment", "web", "-o", "yaml");
        Assert.Contains("kind: Deployment", yaml);
        Assert.Contains("replicas: 3", yaml);
        Assert.DoesNotContain("generateName", yaml);
        string svcYaml = await kubectl.OkAsync("get", "service", "web", "-o", "yaml");
        Assert.Contains("targetPort: 8080", svcYaml);

        // A typed get through protobuf: describe reads the objects with kubectl's typed clientset.
        string described = await kubectl.OkAsync("describe", "service", "x");
        Assert.Matches(@"TargetPort:\s+8080/TCP", described);
        Assert.Contains("namespace \"x\" deleted", await kubectl.OkAsync("delete", "namespace", "x"));
    }
}
