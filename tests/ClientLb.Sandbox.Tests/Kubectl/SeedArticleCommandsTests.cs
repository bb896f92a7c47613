using System.Text.RegularExpressions;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Kubectl;

/// <summary>
/// Every kubectl command of the seed articles (/work/shared/seeds), and those the sandbox issue names, run with the real
/// kubectl against one sandbox in article order, each checked for a fragment of its output (or of its refusal).
/// </summary>
public class SeedArticleCommandsTests
{
    /// <summary>One command: its arguments, what it reads on stdin, whether it succeeds, and a pattern its output matches.</summary>
    public sealed record Row(string[] Args, string? Stdin, bool Succeeds, string Pattern);

    private static Row Ok(string pattern, params string[] args) => new(args, null, true, pattern);
    private static Row Fails(string pattern, params string[] args) => new(args, null, false, pattern);

    [Fact]
    public async Task Every_command_of_the_seed_articles_works_or_is_refused_clearly()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.FromSeconds(1) });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        // The edit changes the Service's port and keeps the 3 replicas the deployment is scaled to below: applying the seed's
        // replicas: 2 would scale it down, and the pod removed (the newest, as Kubernetes picks it) may be the one labelled
        // tier=web, which `delete -l tier=web` would then no longer find.
        string edited = Infrastructure.Manifests.Seed
            .Replace("- port: 80          # Port exposed", "- port: 8080        # Port exposed")
            .Replace("replicas: 2", "replicas: 3");
        Row[] rows =
        [
            // "ClusterIP Services" article: apply the manifest, look at pods and services.
            new(["--context", "clientlb-sandbox", "apply", "-f", "-"], Infrastructure.Manifests.Seed, true, @"deployment\.apps/my-app created\s+service/my-service created"),
            Ok(@"deployment ""my-app"" successfully rolled out", "--context", "clientlb-sandbox", "rollout", "status", "deployment/my-app", "--timeout=30s"),
            Ok(@"my-app-\w+-\w+\s+1/1\s+Running\s+0", "--context", "clientlb-sandbox", "get", "pods"),
            Ok(@"my-service\s+ClusterIP\s+127\.96\.\d+\.\d+\s+<none>\s+80/TCP", "--context", "clientlb-sandbox", "get", "svc"),
            // "Internal networking" article: describe, endpoints, field selector across namespaces, labels, kube-system.
            Ok(@"Endpoints:\s+127\.244\.\d+\.\d+:80,127\.244\.\d+\.\d+:80", "describe", "svc", "my-service"),
            Ok(@"my-service\s+127\.244\.\d+\.\d+:80,127\.244\.\d+\.\d+:80", "get", "endpoints", "my-service"),
            Ok(@"default\s+my-service\s+ClusterIP[\s\S]*kube-system\s+kube-dns\s+ClusterIP", "get", "svc", "--field-selector", "spec.type=ClusterIP", "-A"),
            Ok(@"app=my-app,pod-template-hash=\w+", "get", "pods", "--show-labels"),
            Ok(@"coredns-\S+\s+1/1\s+Running[\s\S]*kube-proxy-\S+\s+1/1\s+Running", "get", "pods", "-n", "kube-system"),
            Ok(@"service default/my-service port 127\.96\.\d+\.\d+:80/TCP", "logs", "-n", "kube-system", "-l", "k8s-app=kube-proxy"),
            Fails(@"the sandbox's pods are loopback servers[\s\S]*kubectl port-forward", "exec", "-it", "$POD", "--", "curl", "http://my-service"),
            Fails(@"the sandbox's pods are loopback servers", "exec", "-it", "$POD", "--", "nslookup", "api.production.svc.cluster.local"),
            Fails(@"the sandbox's pods are loopback servers", "attach", "$POD"),
            Ok(@"couldn.t attach to pod/test-client[\s\S]*the sandbox's pods are loopback servers", "--context", "clientlb-sandbox", "run", "test-client", "--rm", "-it", "--image=busybox:1.36", "--", "sh"),
            // What the issue tried next: scale, label, annotate, patch, apply after an edit, logs, delete -l, api-resources.
            Ok(@"deployment\.apps/my-app scaled", "scale", "deployment", "my-app", "--replicas=3"),
            Ok(@"successfully rolled out", "rollout", "status", "deployment/my-app", "--timeout=30s"),
            Ok(@"pod/\S+ labeled", "label", "pod", "$POD", "tier=web"),
            Ok(@"pod/\S+ annotated", "annotate", "pod", "$POD", "note=seed"),
            Ok(@"service/my-service patched", "patch", "svc", "my-service", "-p", """{"metadata":{"labels":{"patched":"yes"}}}"""),
            new(["apply", "-f", "-"], edited, true, @"service/my-service configured"),
            Ok(@"my-service\s+ClusterIP\s+\S+\s+<none>\s+8080/TCP", "get", "svc", "my-service"),
            Ok(@"my-app\s+3/3\s+3\s+3", "get", "deployment", "my-app"),
            Ok(@"listening on 127\.244\.\d+\.\d+:80", "logs", "$POD"),
            Ok(@"ScalingReplicaSet\s+deployment/my-app\s+Scaled up replica set", "get", "events"),
            Ok(@"endpoints\s+ep\s+v1\s+true\s+Endpoints[\s\S]*daemonsets\s+ds\s+apps/v1\s+true\s+DaemonSet", "api-resources"),
            Ok(@"pod ""\S+"" deleted", "delete", "pods", "-l", "tier=web"),
            // The issue's own list: kubectl's typed generators (protobuf), yaml output, log options, auth can-i.
            // (port-forward and logs -f run until stopped: PortForwardTests and KubeSystemAndLogsTests drive them.)
            Ok(@"namespace/shop created", "create", "namespace", "shop"),
            Ok(@"deployment\.apps/web created", "create", "deployment", "web", "--image=nginx:1.25-alpine", "--port=80", "-n", "shop"),
            Ok(@"service/web exposed", "expose", "deployment", "web", "--port=80", "-n", "shop"),
            Ok(@"service/other created", "create", "service", "clusterip", "other", "--tcp=80:8080", "-n", "shop"),
            Ok(@"kind: Service[\s\S]*clusterIP: 127\.96\.\d+\.\d+[\s\S]*targetPort: 80", "get", "svc", "web", "-n", "shop", "-o", "yaml"),
            Ok(@"^[^\n]+\n?$", "logs", "$POD", "--tail=1"),
            Ok(@"listening on 127\.244\.\d+\.\d+:80", "logs", "$POD", "--since=1h"),
            Ok(@"^yes\s*$", "auth", "can-i", "list", "endpointslices"),
            Ok(@"\*\.\*\s+\[\]\s+\[\]\s+\[\*\]", "auth", "can-i", "--list"),
            Fails(@"server-side apply \(application/apply-patch\+yaml\) is not supported by the sandbox", "apply", "--server-side", "-f", "-"),
        ];
        var failures = new List<string>();
        foreach (Row row in rows)
        {
            string pod = cluster.GetPods("app=my-app").Where(p => p.Ready && !p.Terminating).Select(p => p.Name).Order().FirstOrDefault() ?? "no-pod";
            string[] args = row.Args.Select(a => a == "$POD" ? pod : a).ToArray();
            string? stdin = row.Stdin ?? (args.Contains("-") ? edited : null);
            (int exit, string? stdout, string? stderr) = await kubectl.RunAsync(args, stdin);
            string output = stdout + stderr;
            string line = $"kubectl {string.Join(' ', args)}";
            if ((exit == 0) != row.Succeeds)
            {
                failures.Add($"{line}: exit {exit}, expected {(row.Succeeds ? "success" : "a refusal")}:\n{output}");
            }
            else if (!Regex.IsMatch(output, row.Pattern))
            {
                failures.Add($"{line}: output does not match /{row.Pattern}/:\n{output}");
            }

            if (args.Contains("scale"))
            {
                await cluster.WaitForReadyEndpointsAsync("my-service", 3, cancellationToken: Deadline.In());
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }
}
