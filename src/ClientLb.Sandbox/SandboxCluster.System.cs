using System.Text.Json.Nodes;
using ClientLb.Sandbox.Controllers;
using ClientLb.Sandbox.Logs;
using ClientLb.Sandbox.Pods;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox;

public sealed partial class SandboxCluster
{
    /// <summary>
    /// kube-system as a cluster shows it: the cluster DNS as Service <c>kube-dns</c> (ports 53/UDP and 53/TCP, targeting
    /// the DNS server's real port) backed by one <c>coredns-…</c> pod labelled <c>k8s-app=kube-dns</c> whose IP is the DNS
    /// server's address and whose log is the DNS query log.
    /// </summary>
    private void PublishClusterDns(Dns.ClusterDnsServer dns)
    {
        const string ns = "kube-system";
        string address = dns.EndPoint.Address.ToString();
        int port = dns.EndPoint.Port;
        string pod = CreateComponentPod("coredns-" + ObjectStore.RandomSuffix(10) + "-" + ObjectStore.RandomSuffix(), "cluster-dns",
            new JsonObject { ["k8s-app"] = "kube-dns" }, address, "coredns", "registry.k8s.io/coredns/coredns:v1.11.3",
            new JsonArray(
                new JsonObject { ["name"] = "dns", ["containerPort"] = port, ["protocol"] = "UDP" },
                new JsonObject { ["name"] = "dns-tcp", ["containerPort"] = port, ["protocol"] = "TCP" }));
        LogBook log = PodLogs.Open(ns, pod, "coredns");
        log.Write($".:{port} on {address} (the sandbox's cluster DNS, zone {_options.ClusterDomain})");
        dns.QueryLog = log.Write;
        _store.Create(ResourceTypes.Services, ns, new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = "kube-dns",
                ["labels"] = new JsonObject { ["k8s-app"] = "kube-dns", ["kubernetes.io/name"] = "CoreDNS", ["kubernetes.io/cluster-service"] = "true" },
            },
            ["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject { ["k8s-app"] = "kube-dns" },
                ["ports"] = new JsonArray(
                    new JsonObject { ["name"] = "dns", ["port"] = 53, ["protocol"] = "UDP", ["targetPort"] = "dns" },
                    new JsonObject { ["name"] = "dns-tcp", ["port"] = 53, ["protocol"] = "TCP", ["targetPort"] = "dns-tcp" }),
            },
        });
    }

    /// <summary>A node proxy (the ClientLb agent, kube-proxy) that runs against the sandbox, shown as a kube-proxy pod; returns its log.</summary>
    private Logs.LogBook CreateNodeProxyPod(string name, string who)
    {
        string agent = who.Split(' ')[0];
        CreateComponentPod(name, "node-proxy", new JsonObject { ["k8s-app"] = "kube-proxy", ["sandbox.clientlb.io/node-proxy"] = "api-client" }, "127.0.0.1", "kube-proxy",
            agent.StartsWith("ClientLb", StringComparison.OrdinalIgnoreCase) ? "clientlb/clientlb" : "registry.k8s.io/kube-proxy", []);
        return PodLogs.Open("kube-system", name, "kube-proxy");
    }

    private void DeleteNodeProxyPod(string name)
    {
        try { _store.Delete(ResourceTypes.Pods, "kube-system", name, new DeleteOptions { GracePeriodSeconds = 0 }); }
        catch (ApiException ex) when (ex.Code == 404) { }
        if (PodLogs.Find("kube-system", name, "kube-proxy") is { } log)
        {
            PodLogs.Remove("kube-system", name, "kube-proxy", log);
        }
    }

    /// <summary>Creates a running, ready kube-system pod for a component the sandbox runs itself (the pod runtime leaves it alone).</summary>
    private string CreateComponentPod(string name, string component, JsonObject labels, string ip, string container, string image, JsonArray ports, string? nodeName = null)
    {
        const string ns = "kube-system";
        _store.Create(ResourceTypes.Pods, ns, new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["labels"] = labels,
                ["annotations"] = new JsonObject { [PodRuntime.ComponentAnnotation] = component },
            },
            ["spec"] = new JsonObject
            {
                ["nodeName"] = nodeName ?? _options.Nodes[0].Name,
                ["priorityClassName"] = "system-cluster-critical",
                ["containers"] = new JsonArray(ports.Count == 0
                    // An empty list is omitted as the API server's omitempty does (protobuf cannot tell [] from absent).
                    ? new JsonObject { ["name"] = container, ["image"] = image }
                    : new JsonObject { ["name"] = container, ["image"] = image, ["ports"] = ports }),
            },
        });
        string now = Json.Timestamp(Time.GetUtcNow());
        _store.Mutate(ResourceTypes.Pods, ns, name, o =>
        {
            o["status"] = new JsonObject
            {
                ["phase"] = "Running",
                ["conditions"] = new JsonArray(
                    DeploymentController.Condition(null, "PodScheduled", true, "Scheduled", "", now),
                    DeploymentController.Condition(null, "Initialized", true, "Initialized", "", now),
                    DeploymentController.Condition(null, "ContainersReady", true, "ContainersReady", "", now),
                    DeploymentController.Condition(null, "Ready", true, "PodReady", "", now)),
                ["hostIP"] = "127.0.0.1",
                ["hostIPs"] = new JsonArray(new JsonObject { ["ip"] = "127.0.0.1" }),
                ["podIP"] = ip,
                ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }),
                ["startTime"] = now,
                ["qosClass"] = "BestEffort",
                ["containerStatuses"] = new JsonArray(new JsonObject
                {
                    ["name"] = container, ["image"] = image, ["imageID"] = "", ["ready"] = true, ["started"] = true, ["restartCount"] = 0,
                    ["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } },
                }),
            };
            return o;
        }, UpdateMode.Internal);
        return name;
    }

    /// <summary>
    /// Issues a token for an existing service account (as a TokenRequest would, valid for <paramref name="validFor"/>, default
    /// one hour) and writes a kubeconfig that uses it; returns the kubeconfig's path (a new temporary file the caller deletes).
    /// With <see cref="SandboxOptions.Authorization"/> set to RBAC, requests with it are allowed only by the stored Roles and bindings.
    /// </summary>
    public async Task<string> WriteServiceAccountKubeconfigAsync(string serviceAccount, string ns = "default", TimeSpan? validFor = null, CancellationToken cancellationToken = default)
    {
        StoredObject account = Call(() => _store.GetRequired(ResourceTypes.ServiceAccounts, ns, serviceAccount));
        string token = Tokens.Issue(ns, serviceAccount, account.Uid, Time.GetUtcNow() + (validFor ?? TimeSpan.FromHours(1)));
        string path = Path.Combine(Path.GetTempPath(), $"clientlb-sandbox-{ns}-{serviceAccount}-{Guid.NewGuid():N}.kubeconfig");
        await File.WriteAllTextAsync(path, Api.Kubeconfig.Render(ApiServerUri, _certificates?.CaPem, token, ns), cancellationToken);
        return path;
    }
}
