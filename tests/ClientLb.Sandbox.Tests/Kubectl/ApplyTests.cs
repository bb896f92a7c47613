using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Kubectl;

/// <summary><c>kubectl apply</c> after edits: strategic merge patches with merge keys and directives.</summary>
public class ApplyTests
{
    [Fact]
    public async Task Apply_after_changing_the_service_port_and_the_container_merges_lists_by_key()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, EnableServiceProxy = false, DefaultTerminationGracePeriod = TimeSpan.FromSeconds(1) });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        (int exit, string _, string? stderr) = await kubectl.RunAsync(["apply", "-f", "-"], Infrastructure.Manifests.Seed);
        Assert.True(exit == 0, stderr);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());

        string edited = Infrastructure.Manifests.Seed
            .Replace("- port: 80          # Port exposed", "- port: 8080        # Port exposed")
            .Replace("image: nginx:1.25-alpine   # Using Nginx as an example", "image: nginx:1.27-alpine\n          env: [{name: MODE, value: fast}]");
        (exit, string? stdout, stderr) = await kubectl.RunAsync(["apply", "-f", "-"], edited);
        Assert.True(exit == 0, stderr);
        Assert.Contains("service/my-service configured", stdout);
        Assert.Contains("deployment.apps/my-app configured", stdout);

        var svc = JsonNode.Parse(await kubectl.OkAsync("get", "svc", "my-service", "-o", "json"));
        JsonNode? port = Assert.Single(svc.Arr("spec", "ports"));
        Assert.Equal(8080, port.L("port"));
        Assert.Equal(80, port.L("targetPort"));
        JsonNode? container = Assert.Single(JsonNode.Parse(await kubectl.OkAsync("get", "deploy", "my-app", "-o", "json")).Arr("spec", "template", "spec", "containers"));
        Assert.Equal("nginx:1.27-alpine", container.S("image"));
        Assert.Equal("fast", container.S("env", "0", "value"));
        Assert.Equal(80, container.L("ports", "0", "containerPort"));

        // Server-side apply keeps its clear refusal.
        (exit, _, stderr) = await kubectl.RunAsync(["apply", "--server-side", "-f", "-"], edited);
        Assert.NotEqual(0, exit);
        Assert.Contains("server-side apply (application/apply-patch+yaml) is not supported by the sandbox", stderr);
    }

    [Fact]
    public async Task Kubectl_patch_with_directives_deletes_replaces_and_keeps_ports_of_both_protocols()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, EnableServiceProxy = false });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: dns}
            spec:
              selector: {app: dns}
              ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}, {name: metrics, port: 9153}]
            """);
        // The TCP twin of port 53 is changed in place, the UDP one left alone, metrics deleted.
        await kubectl.OkAsync("patch", "svc", "dns", "--type", "strategic", "-p",
            """{"spec":{"ports":[{"port":53,"protocol":"TCP","targetPort":5353},{"$patch":"delete","port":9153}]}}""");
        JsonArray ports = JsonNode.Parse(await kubectl.OkAsync("get", "svc", "dns", "-o", "json")).Arr("spec", "ports");
        Assert.Equal(["dns/UDP/53", "dns-tcp/TCP/5353"], ports.Select(p => $"{p.S("name")}/{p.S("protocol")}/{p.L("targetPort")}"));

        (int exit, string _, string? stderr) = await kubectl.RunAsync(["patch", "svc", "dns", "--type", "strategic", "-p", """{"spec":{"$patch":"bogus"}}"""]);
        Assert.NotEqual(0, exit);
        Assert.Contains("strategic merge patch at spec: unknown $patch directive \"bogus\"", stderr);
    }

    [Fact]
    public void Directives_follow_the_upstream_semantics()
    {
        JsonObject target = JsonNode.Parse("""
            {"kind":"Deployment","metadata":{"finalizers":["a"]},"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}},
             "template":{"spec":{"containers":[{"name":"a","image":"x","args":["1","2"]},{"name":"b","image":"y"}]}}}}
            """)!.AsObject();
        JsonObject patch = JsonNode.Parse("""
            {"metadata":{"finalizers":["b"]},"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"},
             "template":{"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"b"}],
               "containers":[{"name":"c","image":"z"},{"name":"a","$patch":"delete"},{"name":"b","$deleteFromPrimitiveList/args":["1"]}]}}}}
            """)!.AsObject();
        JsonObject result = StrategicMerge.Apply("Deployment", target, patch);
        Assert.Equal(["a", "b"], result.Arr("metadata", "finalizers").Select(f => f!.GetValue<string>()));
        Assert.Equal("""{"type":"Recreate"}""", result.At("spec", "strategy")!.ToJsonString());
        Assert.Equal(["c", "b"], result.Arr("spec", "template", "spec", "containers").Select(c => c.S("name")));
        JsonObject replaced = StrategicMerge.Apply("Deployment", target, JsonNode.Parse("""{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"i"},{"$patch":"replace"}]}}}}""")!.AsObject());
        Assert.Equal(["only"], replaced.Arr("spec", "template", "spec", "containers").Select(c => c.S("name")));
    }
}
