using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Kubectl;

/// <summary>The manifests users deploy to real clusters (accounts, RBAC, config, DaemonSets) and Events, with the real kubectl.</summary>
public class MoreKindsTests
{
    private const string Manifest = """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: payment}
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: payment-token
          annotations: {kubernetes.io/service-account.name: payment}
        type: kubernetes.io/service-account-token
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: payment-config}
        data: {mode: fast, retries: "3"}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: payment-db}
        stringData: {password: s3cret}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {name: endpoint-reader}
        rules:
        - apiGroups: ["discovery.k8s.io"]
          resources: ["endpointslices"]
          verbs: ["get", "list", "watch"]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: payment-reads-endpoints}
        subjects: [{kind: ServiceAccount, name: payment, namespace: default}]
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: endpoint-reader}
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: node-agent}
        spec:
          selector: {matchLabels: {app: node-agent}}
          template:
            metadata: {labels: {app: node-agent}}
            spec: {containers: [{name: agent, image: agent:1, ports: [{containerPort: 9100}]}]}
        """;

    [Fact]
    public async Task Accounts_config_secrets_rbac_and_a_daemonset_apply_and_show_like_a_real_cluster()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, EnableServiceProxy = false });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        (int exit, string? stdout, string? stderr) = await kubectl.RunAsync(["apply", "-f", "-"], Manifest);
        Assert.True(exit == 0, stderr);
        foreach (string? created in new[] { "serviceaccount/payment", "secret/payment-token", "configmap/payment-config", "secret/payment-db",
            "clusterrole.rbac.authorization.k8s.io/endpoint-reader", "clusterrolebinding.rbac.authorization.k8s.io/payment-reads-endpoints", "daemonset.apps/node-agent" })
        {
            Assert.Contains($"{created} created", stdout);
        }

        var token = JsonNode.Parse(await kubectl.OkAsync("get", "secret", "payment-token", "-o", "json"));
        Assert.StartsWith("sandbox-sa.", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(token.S("data", "token")!)));
        Assert.Equal("s3cret", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(JsonNode.Parse(await kubectl.OkAsync("get", "secret", "payment-db", "-o", "json")).S("data", "password")!)));
        Assert.Matches(@"payment-config\s+2\s+", await kubectl.OkAsync("get", "cm"));
        Assert.Matches(@"payment-reads-endpoints\s+ClusterRole/endpoint-reader", await kubectl.OkAsync("get", "clusterrolebindings"));

        // One pod per sandbox node.
        await cluster.WaitUntilAsync(c => c.GetPods("app=node-agent").Count(p => p.Ready) == 3, Deadline.In());
        Assert.Equal(["sandbox-node-a", "sandbox-node-b", "sandbox-node-c"], cluster.GetPods("app=node-agent").Select(p => p.NodeName).Order());
        await cluster.WaitUntilAsync(c => c.GetAsync("apps/v1", "DaemonSet", "node-agent").Result.L("status", "numberReady") == 3, Deadline.In());
        Assert.Matches(@"node-agent\s+3\s+3\s+3\s+3\s+3\s+<none>", await kubectl.OkAsync("get", "ds"));
        // Re-applying the same manifest leaves everything as it is.
        (exit, stdout, stderr) = await kubectl.RunAsync(["apply", "-f", "-"], Manifest);
        Assert.True(exit == 0, stderr);
        Assert.Contains("daemonset.apps/node-agent unchanged", stdout);
    }

    [Theory]
    [InlineData("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: [{apiGroups: [\"\"], resources: [pods]}]",
        "The Role \"r\" is invalid: rules[0].verbs: Required value: verbs must contain at least one value")]
    [InlineData("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Kind, name: x}",
        "The RoleBinding \"b\" is invalid: roleRef.kind: Unsupported value: \"Kind\": supported values: \"ClusterRole\", \"Role\"")]
    [InlineData("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {\"bad key\": x}",
        "The ConfigMap \"c\" is invalid: data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters")]
    [InlineData("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: \"not base64!\"}",
        "The Secret \"s\" is invalid: data[k]: Invalid value: \"<value omitted>\": illegal base64 data")]
    [InlineData("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c, image: i}]}}}",
        "The DaemonSet \"d\" is invalid: spec.template.metadata.labels: Invalid value: \"{\"a\":\"c\"}\": `selector` does not match template `labels`")]
    public async Task Invalid_objects_are_refused_with_the_field_at_fault_and_nothing_is_stored(string yaml, string expected)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, EnableServiceProxy = false });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        (int exit, string _, string? stderr) = await kubectl.RunAsync(["create", "-f", "-"], yaml);
        Assert.NotEqual(0, exit);
        Assert.Contains(expected, stderr);
        string kind = yaml.Split("kind: ")[1].Split('\n')[0].ToLowerInvariant();
        Assert.Contains("No resources found", (await kubectl.RunAsync(["get", kind])).Stderr);
    }

    [Fact]
    public async Task Scaling_and_endpoint_changes_leave_events_that_get_events_and_describe_show()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, EnableServiceProxy = false });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await kubectl.RunAsync(["create", "-f", "-"], Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        await kubectl.OkAsync("scale", "deployment", "my-app", "--replicas=3");
        await cluster.WaitForReadyEndpointsAsync("my-service", 3, cancellationToken: Deadline.In());
        await cluster.WaitUntilAsync(c => c.ListAsync("v1", "Event").Result.Any(e => e.S("reason") == "EndpointsChanged" && e.S("message")!.Contains("3 ready")), Deadline.In());

        string events = await kubectl.OkAsync("get", "events");
        Assert.Matches(@"LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE", events);
        Assert.Matches(@"Normal\s+ScalingReplicaSet\s+deployment/my-app\s+Scaled up replica set my-app-\w+ from 2 to 3", events);
        Assert.Matches(@"Normal\s+EndpointsChanged\s+service/my-service\s+Endpoints of service my-service: 3 ready, 0 not ready", events);
        Assert.Matches(@"Events:\s+Type\s+Reason\s+Age\s+From\s+Message", await kubectl.OkAsync("describe", "deployment", "my-app"));
        Assert.Matches(@"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set my-app-\w+ from 2 to 3", await kubectl.OkAsync("describe", "deployment", "my-app"));
        Assert.Contains("EndpointsChanged", await kubectl.OkAsync("describe", "svc", "my-service"));
    }
}
