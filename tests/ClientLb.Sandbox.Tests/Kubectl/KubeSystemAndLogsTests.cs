using System.Diagnostics;
using System.Net.Sockets;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Kubectl;

/// <summary>kube-system (kube-dns and its pod) and <c>kubectl logs</c> of pods and of the cluster DNS, with the real kubectl.</summary>
public class KubeSystemAndLogsTests
{
    [Fact]
    public async Task Kube_dns_is_a_service_with_a_coredns_pod_whose_log_is_the_query_log()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);

        string svc = await kubectl.OkAsync("get", "svc", "-n", "kube-system");
        Assert.Matches(@"kube-dns\s+ClusterIP\s+127\.96\.\d+\.\d+\s+<none>\s+53/UDP,53/TCP", svc);
        string pods = await kubectl.OkAsync("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns");
        Assert.Matches(@"coredns-\S+\s+1/1\s+Running", pods);
        string ep = await kubectl.OkAsync("get", "endpoints", "kube-dns", "-n", "kube-system");
        Assert.Contains($"127.0.0.1:{cluster.DnsEndPoint!.Port}", ep);

        await Dig(cluster, "kubernetes-probe.default.svc.cluster.local");
        string log = "";
        for (int i = 0; i < 50 && !log.Contains("kubernetes-probe.default.svc.cluster.local."); i++)
        {
            log = await kubectl.OkAsync("logs", "-n", "kube-system", "-l", "k8s-app=kube-dns");
        }

        Assert.Matches(@"\[INFO\] 127\.0\.0\.1:\d+ - \d+ ""A IN kubernetes-probe\.default\.svc\.cluster\.local\. udp \d+ false \d+"" NXDOMAIN qr,aa,rd", log);
    }

    private static async Task Dig(SandboxCluster cluster, string name)
    {
        byte[] query = ClientLb.Dns.Protocol.DnsMessage.CreateQuery(4242, new(name, ClientLb.Dns.Protocol.DnsRecordType.A), null).Encode();
        using var udp = new UdpClient();
        await udp.SendAsync(query, cluster.DnsEndPoint!);
        await udp.ReceiveAsync(Deadline.In());
    }

    /// <summary>A sandbox with the seed article's deployment and service created by kubectl, its two endpoints ready.</summary>
    private static async Task<(SandboxCluster, Infrastructure.Kubectl)> SeedAsync()
    {
        _ = Infrastructure.Kubectl.Path;
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false });
        var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await kubectl.RunAsync(["create", "-f", "-"], Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        return (cluster, kubectl);
    }

    [Fact]
    public async Task Logs_of_a_pod_show_its_requests_with_tail_since_timestamps_selector_and_follow()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await SeedAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        SandboxPod pod = cluster.GetPods("app=my-app")[0];
        using var http = new HttpClient();
        await http.GetStringAsync(new Uri(pod.GetUri(), "/process?x=1"));
        await http.GetStringAsync(new Uri(pod.GetUri(), "/second"));

        string all = await kubectl.OkAsync("logs", pod.Name);
        Assert.Contains($"listening on {pod.IP}:80 (HTTP/1.1)", all);
        Assert.Matches(@"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1:\d+ ""GET /process\?x=1 HTTP/1\.1"" 200", all);
        string tail = (await kubectl.OkAsync("logs", pod.Name, "--tail=1")).Trim();
        Assert.Contains("GET /second", tail);
        Assert.DoesNotContain("\n", tail);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ", await kubectl.OkAsync("logs", pod.Name, "--timestamps", "--tail=1"));
        Assert.Contains("GET /second", await kubectl.OkAsync("logs", pod.Name, "--since=1h"));
        string bySelector = await kubectl.OkAsync("logs", "-l", "app=my-app", "--prefix");
        foreach (SandboxPod p in cluster.GetPods("app=my-app"))
        {
            Assert.Contains($"[pod/{p.Name}/my-app]", bySelector);
        }

        (int exit, string _, string? stderr) = await kubectl.RunAsync(["logs", pod.Name, "-c", "nope"]);
        Assert.NotEqual(0, exit);
        Assert.Contains($"container nope is not valid for pod {pod.Name}", stderr);

        using Process follow = kubectl.StartStreaming("logs", "-f", pod.Name, "--tail=0");
        try
        {
            // kubectl may connect after the first requests: keep requesting until the follower prints one.
            Task<string?> read = follow.StandardOutput.ReadLineAsync(Deadline.In()).AsTask();
            for (int i = 0; !read.IsCompleted && i < 200; i++)
            {
                await http.GetStringAsync(new Uri(pod.GetUri(), $"/followed-{i}"));
                await Task.WhenAny(read, Task.Delay(100));
            }
            Assert.Contains("GET /followed-", await read);
        }
        finally { follow.Kill(); }
    }

    [Fact]
    public async Task Exec_and_attach_get_a_status_saying_pods_are_loopback_servers()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await SeedAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        SandboxPod pod = cluster.GetPods("app=my-app")[0];
        foreach (string[]? args in new[] { new[] { "exec", "-it", pod.Name, "--", "curl", "http://my-service" }, ["exec", pod.Name, "--", "nslookup", "my-service"], ["attach", pod.Name] })
        {
            (int exit, string _, string? stderr) = await kubectl.RunAsync(args);
            Assert.NotEqual(0, exit);
            Assert.Contains("the sandbox's pods are loopback servers", stderr);
            Assert.Contains("kubectl port-forward", stderr);
        }
    }
}
