using YamlDotNet.RepresentationModel;

namespace ClientLb.Release.Tests;

/// <summary>
/// deploy/: every overlay renders with <c>kubectl kustomize</c> (offline), the plain manifests are that rendering, and
/// the objects grant and ask for exactly what the design says (RBAC verbs, capabilities, probes on the agent's /healthz).
/// </summary>
public class DeployManifestTests
{
    private static readonly string Deploy = Path.Combine(PackagedAppTests.RepoRoot, "deploy");

    public static TheoryData<string> Overlays => ["node", "finance", "sidecar"];

    private static async Task<List<YamlMappingNode>> RenderAsync(string overlay)
    {
        string yaml = await PackagedAppTests.RunAsync("kubectl", $"kustomize \"{Path.Combine(Deploy, "overlays", overlay)}\"", Deploy);
        string plain = await File.ReadAllTextAsync(Path.Combine(Deploy, "plain", overlay + ".yaml"));
        Assert.True(plain[(plain.IndexOf('\n') + 1)..] == yaml, $"deploy/plain/{overlay}.yaml is not the rendering of deploy/overlays/{overlay}: re-run kubectl kustomize");
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    private static string Str(YamlNode node, params string[] path)
    {
        foreach (string key in path)
        {
            node = ((YamlMappingNode)node)[key];
        }
        return ((YamlScalarNode)node).Value!;
    }

    private static YamlNode? Find(YamlNode node, params string[] path)
    {
        foreach (string key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(key, out YamlNode? next))
            {
                return null;
            }
            node = next;
        }
        return node;
    }

    private static string[] Strings(YamlNode? node) => node is YamlSequenceNode seq ? [.. seq.Children.Select(c => ((YamlScalarNode)c).Value!)] : [];

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Roles_grant_exactly_get_list_watch_on_services_and_endpointslices(string overlay)
    {
        List<YamlMappingNode> objects = await RenderAsync(overlay);
        List<YamlMappingNode> roles = [.. objects.Where(o => Str(o, "kind") is "Role" or "ClusterRole")];
        Assert.NotEmpty(roles);
        foreach (YamlMappingNode role in roles)
        {
            var grants = ((YamlSequenceNode)role["rules"]).Children.Cast<YamlMappingNode>()
                .SelectMany(rule => Strings(rule["resources"]).Select(r => (Group: Strings(rule["apiGroups"]).Single(), Resource: r, Verbs: string.Join(",", Strings(rule["verbs"]).Order()))))
                .OrderBy(g => g.Resource).ToList();
            Assert.Equal([("discovery.k8s.io", "endpointslices", "get,list,watch"), ("", "services", "get,list,watch")], grants);
        }
    }

    [Fact]
    public async Task The_node_agent_runs_on_the_host_network_with_two_capabilities_and_probes_its_health_endpoint()
    {
        List<YamlMappingNode> objects = await RenderAsync("node");
        YamlMappingNode daemonSet = objects.Single(o => Str(o, "kind") == "DaemonSet");
        Assert.Equal("clientlb-system", Str(daemonSet, "metadata", "namespace"));
        YamlNode pod = Find(daemonSet, "spec", "template", "spec")!;
        Assert.Equal("true", Str(pod, "hostNetwork"));
        Assert.NotEmpty(((YamlSequenceNode)Find(pod, "tolerations")!).Children);
        YamlMappingNode agent = (YamlMappingNode)((YamlSequenceNode)Find(pod, "containers")!).Children.Single();
        AssertLockedDown(agent);
        string[] args = Strings(agent["args"]);
        string port = args[Array.IndexOf(args, "--metrics-port") + 1];
        foreach (string probe in new[] { "livenessProbe", "readinessProbe" })
        {
            Assert.Equal("/healthz", Str(agent, probe, "httpGet", "path"));
            Assert.Equal(port, Str(agent, probe, "httpGet", "port"));
            Assert.Equal("127.0.0.1", Str(agent, probe, "httpGet", "host"));
        }
        Assert.Equal(port, Str(((YamlSequenceNode)agent["ports"]).Children[0], "containerPort"));
        // The ClusterRoleBinding names the service account in the namespace the overlay puts it in.
        YamlMappingNode binding = objects.Single(o => Str(o, "kind") == "ClusterRoleBinding");
        Assert.Equal("clientlb-system", Str(((YamlSequenceNode)binding["subjects"]).Children[0], "namespace"));
    }

    [Fact]
    public async Task The_node_relay_socket_is_shared_through_the_same_host_directory_by_the_agent_and_the_sdk_pods()
    {
        const string dir = "/var/run/clientlb";
        static string MountedHostPath(YamlNode pod, YamlMappingNode container, string mountPath, out bool readOnly)
        {
            YamlNode mount = ((YamlSequenceNode)container["volumeMounts"]).Children.Single(m => Str(m, "mountPath") == mountPath);
            readOnly = Find(mount, "readOnly") is YamlScalarNode { Value: "true" };
            YamlNode volume = ((YamlSequenceNode)Find(pod, "volumes")!).Children.Single(v => Str(v, "name") == Str(mount, "name"));
            return Str(volume, "hostPath", "path");
        }

        YamlMappingNode daemonSet = (await RenderAsync("node")).Single(o => Str(o, "kind") == "DaemonSet");
        YamlNode agentPod = Find(daemonSet, "spec", "template", "spec")!;
        YamlMappingNode agent = (YamlMappingNode)((YamlSequenceNode)Find(agentPod, "containers")!).Children.Single();
        string[] args = Strings(agent["args"]);
        Assert.Equal(dir + "/relay.sock", args[Array.IndexOf(args, "--relay-socket") + 1]);
        Assert.Equal(dir, MountedHostPath(agentPod, agent, dir, out bool agentReadOnly));
        Assert.False(agentReadOnly, "the agent creates the socket");

        // The SDK's default socket (ClientLb:Kubernetes:NodeRelay:SocketPath) is in the same host directory.
        foreach (string overlay in new[] { "finance", "sidecar" })
        {
            YamlMappingNode job = (await RenderAsync(overlay)).Single(o => Str(o, "kind") == "Job" && Str(o, "metadata", "name") == "payment-client");
            YamlNode pod = Find(job, "spec", "template", "spec")!;
            YamlMappingNode client = (YamlMappingNode)((YamlSequenceNode)Find(pod, "containers")!).Children.Single();
            Assert.Equal(dir, MountedHostPath(pod, client, dir, out bool readOnly));
            Assert.True(readOnly, $"{overlay}: the SDK pod mounts the relay directory read-only");
        }
    }

    [Fact]
    public async Task The_sidecar_agent_starts_first_and_is_probed_on_the_pod_address()
    {
        List<YamlMappingNode> objects = await RenderAsync("sidecar");
        YamlMappingNode deployment = objects.Single(o => Str(o, "kind") == "Deployment" && Str(o, "metadata", "name") == "java-payment-client");
        YamlMappingNode agent = (YamlMappingNode)((YamlSequenceNode)Find(deployment, "spec", "template", "spec", "initContainers")!).Children.Single();
        Assert.Equal("Always", Str(agent, "restartPolicy"));
        AssertLockedDown(agent);
        string[] args = Strings(agent["args"]);
        Assert.Equal("sidecar", args[Array.IndexOf(args, "--mode") + 1]);
        Assert.Equal("0.0.0.0", args[Array.IndexOf(args, "--metrics-address") + 1]);
        Assert.Equal("/healthz", Str(agent, "startupProbe", "httpGet", "path"));
        Assert.Equal("clientlb", Str(deployment, "spec", "template", "spec", "serviceAccountName"));
    }

    [Fact]
    public async Task The_payment_service_is_the_seed_s()
    {
        List<YamlMappingNode> objects = await RenderAsync("finance");
        YamlMappingNode service = objects.Single(o => Str(o, "kind") == "Service");
        Assert.Equal("payment-service", Str(service, "metadata", "name"));
        Assert.Equal("finance", Str(service, "metadata", "namespace"));
        YamlNode port = ((YamlSequenceNode)Find(service, "spec", "ports")!).Children.Single();
        Assert.Equal("80", Str(port, "port"));
        Assert.Equal("8080", Str(port, "targetPort"));
        Assert.Equal("payment", Str(service, "spec", "selector", "app"));
        YamlMappingNode job = objects.Single(o => Str(o, "kind") == "Job");
        Assert.Equal("clientlb", Str(job, "spec", "template", "spec", "serviceAccountName"));
    }

    private static void AssertLockedDown(YamlMappingNode container)
    {
        Assert.Equal(["NET_ADMIN", "NET_RAW"], Strings(Find(container, "securityContext", "capabilities", "add")).Order());
        Assert.Equal(["ALL"], Strings(Find(container, "securityContext", "capabilities", "drop")));
        Assert.Equal("true", Str(container, "securityContext", "readOnlyRootFilesystem"));
        Assert.Equal("false", Str(container, "securityContext", "allowPrivilegeEscalation"));
    }
}
