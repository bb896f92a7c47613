using ClientLb.Agent;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Sandbox;

namespace ClientLb.Release.Tests;

/// <summary>
/// The ClientLb agent's controller running against the sandbox shows in kube-system as a <c>k8s-app=kube-proxy</c> pod
/// (as kube-proxy does in a cluster), whose log says who it is and what it watches, and goes when the agent stops.
/// </summary>
public class AgentOnSandboxTests
{
    [Fact]
    public async Task The_running_agent_appears_as_a_kube_proxy_pod_until_it_stops()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // No service proxy: its own kube-proxy pods would stand beside the agent's.
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableServiceProxy = false, EnableDns = false }, timeout.Token);
        Assert.Empty(cluster.GetPods("k8s-app=kube-proxy", "kube-system"));

        using var api = KubernetesApiClient.FromConfiguration(KubernetesConnection.TryResolve(
            new KubernetesSourceOptions { KubeconfigPath = cluster.KubeconfigPath, Mode = KubernetesConfigMode.Kubeconfig }, out _)!);
        // Sidecar mode with dry-run nftables: node mode refuses the sandbox's 127.96.x.y ClusterIPs as VIPs.
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, DryRun = true, DryRunOutput = TextWriter.Null });
        var controller = new KubernetesAgentController(api, agent, new KubernetesAgentControllerOptions());
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        Task run = controller.RunAsync(stop.Token);
        try
        {
            await cluster.WaitUntilAsync(c => c.GetPods("k8s-app=kube-proxy", "kube-system").Count == 1, timeout.Token);
            SandboxPod pod = cluster.GetPods("k8s-app=kube-proxy", "kube-system").Single();
            Assert.StartsWith("kube-proxy-", pod.Name);
            Assert.True(pod.Ready);
            string log = await PackagedAppTests.RunAsync("kubectl", $"--kubeconfig \"{cluster.KubeconfigPath}\" logs -n kube-system -l k8s-app=kube-proxy", PackagedAppTests.RepoRoot);
            Assert.Matches(@"node proxy ClientLb\S* as the cluster admin from 127\.0\.0\.1: watching endpointslices in all namespaces and services in all namespaces", log);
        }
        finally
        {
            stop.Cancel();
            await run.ContinueWith(_ => { }, TaskScheduler.Default);
        }
        // Gone a few seconds after its last watch closed.
        await cluster.WaitUntilAsync(c => c.GetPods("k8s-app=kube-proxy", "kube-system").Count == 0, timeout.Token);
    }
}
