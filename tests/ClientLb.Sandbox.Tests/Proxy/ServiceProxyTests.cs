using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClientLb.Dns.Protocol;
using ClientLb.Sandbox.Proxy;
using ClientLb.Sandbox.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Sandbox.Tests.Proxy;

/// <summary>The userspace service proxy: real curl and a JDK java.net.http client reach Services by ClusterIP, without root.</summary>
public class ServiceProxyTests
{
    private const string App = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: payment, namespace: default}
        spec:
          replicas: 3
          selector: {matchLabels: {app: payment}}
          template:
            metadata: {labels: {app: payment}}
            spec: {containers: [{name: payment, image: payment:1, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: payment-service, namespace: default}
        spec:
          selector: {app: payment}
          ports: [{protocol: TCP, port: 9080, targetPort: 8080}]
        """;

    private static async Task<(SandboxCluster Cluster, string ClusterIp)> StartAsync(string manifest = App)
    {
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.FromSeconds(2) });
        await cluster.ApplyManifestAsync(manifest);
        await cluster.WaitForReadyEndpointsAsync("payment-service", 3, cancellationToken: Deadline.In());
        string ip = (await cluster.GetAsync("v1", "Service", "payment-service"))!.S("spec", "clusterIP")!;
        return (cluster, ip);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new Xunit.Sdk.XunitException($"{file} could not be started ({ex.Message}): the service proxy tests need curl and a JDK (apt-get install curl default-jdk-headless).");
        }
        using (p)
        {
            Task<string> stdout = p.StandardOutput.ReadToEndAsync();
            Task<string> stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync(Deadline.In(120));
            return (p.ExitCode, await stdout, await stderr);
        }
    }

    [Fact]
    public async Task Curl_spreads_over_the_pods_by_cluster_ip_and_a_pod_deleted_mid_run_fails_no_request()
    {
        (SandboxCluster? cluster, string? ip) = await StartAsync();
        await using SandboxCluster _ = cluster;
        var pods = cluster.GetPods("app=payment").Select(p => p.Name).ToHashSet();
        var answers = new List<string>();
        for (int i = 0; i < 9; i++)
        {
            (int exit, string? body, string? err) = await RunAsync("curl", "-sS", "-m", "5", $"http://{ip}:9080/process");
            Assert.True(exit == 0, $"curl #{i} failed: {err}");
            answers.Add(body);
        }
        Assert.Equal(pods, answers.ToHashSet()); // round-robin: every pod answered

        // Requests keep flowing while a pod is deleted: none fails, and after the endpoint change none reaches it.
        SandboxPod victim = cluster.GetPods("app=payment").Single(p => p.Name == answers[0]);
        using var stop = new CancellationTokenSource();
        Task<int> during = Task.Run(async () =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                (int exit, string _, string? err) = await RunAsync("curl", "-sS", "-m", "5", $"http://{ip}:9080/process");
                Assert.True(exit == 0, $"curl #{n++} during the delete failed: {err}");
            }
            return n;
        });
        await cluster.DeletePodAsync(victim.Name);
        await Eventually(() => LastEndpoints(cluster, "default/payment-service") is { } last && !last.Contains(victim.IP!) && last.Split(", ").Length == 3, () => ProxyLog(cluster));
        for (int i = 0; i < 12; i++)
        {
            (int exit, string? body, string? err) = await RunAsync("curl", "-sS", "-m", "5", $"http://{ip}:9080/process");
            Assert.True(exit == 0, $"curl #{i} after the endpoint change failed: {err}");
            Assert.NotEqual(victim.Name, body);
        }
        stop.Cancel();
        Assert.True(await during > 0);
        Assert.Empty(cluster.ServiceProxyFailures);
    }

    [Fact]
    public async Task Waiting_for_ready_endpoints_returns_once_the_proxy_forwards_to_exactly_them()
    {
        // The proxy follows the slices on its own worker: a client that connects as soon as the slices are ready must not
        // find the proxy a change behind (the Go client was reset once in a loaded run by a proxy without its endpoints).
        (SandboxCluster? cluster, string _) = await StartAsync();
        await using SandboxCluster __ = cluster;
        Assert.Equal(3, LastEndpoints(cluster, "default/payment-service")?.Split(", ").Length);
        foreach (SandboxPod pod in cluster.GetPods("app=payment"))
        {
            await cluster.SetPodReadyAsync(pod.Name, false);
            await cluster.WaitForReadyEndpointsAsync("payment-service", 2, cancellationToken: Deadline.In());
            string? unready = LastEndpoints(cluster, "default/payment-service");
            Assert.True(unready?.Split(", ").Length == 2 && !unready.Contains(pod.IP + ":"), $"{pod.IP} unready, the proxy forwards to {unready}");
            await cluster.SetPodReadyAsync(pod.Name, true);
            await cluster.WaitForReadyEndpointsAsync("payment-service", 3, cancellationToken: Deadline.In());
            Assert.Equal(3, LastEndpoints(cluster, "default/payment-service")?.Split(", ").Length);
        }
    }

    [Fact]
    public async Task The_jdk_http_client_reaches_the_service_by_cluster_ip_and_spreads_over_its_pods()
    {
        (SandboxCluster? cluster, string? ip) = await StartAsync();
        await using SandboxCluster _ = cluster;
        string dir = Directory.CreateTempSubdirectory("payment-client-").FullName;
        try
        {
            // The seed article's PaymentClient, calling the ClusterIP (a host has no cluster DNS search path), once per new client.
            string source = Path.Combine(dir, "PaymentClient.java");
            await File.WriteAllTextAsync(source, """
                import java.net.URI;
                import java.net.http.HttpClient;
                import java.net.http.HttpRequest;
                import java.net.http.HttpResponse;

                public class PaymentClient {
                  public static void main(String[] args) throws Exception {
                    for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                      HttpClient client = HttpClient.newHttpClient();
                      HttpRequest request = HttpRequest.newBuilder().uri(URI.create(args[0] + "/process")).GET().build();
                      HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                      System.out.println(response.statusCode() + " " + response.body());
                    }
                  }
                }
                """);
            (int exit, string? stdout, string? stderr) = await RunAsync("java", source, $"http://{ip}:9080", "9");
            Assert.True(exit == 0, stderr);
            string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(9, lines.Length);
            Assert.All(lines, l => Assert.StartsWith("200 payment-", l));
            Assert.Equal(cluster.GetPods("app=payment").Select(p => "200 " + p.Name).ToHashSet(), lines.ToHashSet());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task Udp_is_proxied_to_the_cluster_dns_and_a_port_taken_by_another_process_fails_only_that_service()
    {
        (SandboxCluster? cluster, string _) = await StartAsync();
        await using SandboxCluster __ = cluster;
        // A UDP Service above 1024 in front of the cluster DNS pod.
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: dns-high, namespace: kube-system}
            spec: {selector: {k8s-app: kube-dns}, ports: [{name: dns, protocol: UDP, port: 5353, targetPort: dns}]}
            """, "kube-system");
        var dnsIp = IPAddress.Parse((await cluster.GetAsync("v1", "Service", "dns-high", "kube-system"))!.S("spec", "clusterIP")!);
        DnsMessage? reply = null;
        using (var udp = new UdpClient())
        {
            for (int i = 0; i < 50 && reply is null; i++)
            {
                await udp.SendAsync(DnsMessage.CreateQuery(7, new("payment-service.default.svc.cluster.local", DnsRecordType.A)).Encode(), new IPEndPoint(dnsIp, 5353));
                Task<UdpReceiveResult> got = udp.ReceiveAsync(Deadline.In(1)).AsTask();
                try { reply = DnsMessage.Decode((await got).Buffer); } catch (OperationCanceledException) { }
            }
        }

        Assert.NotNull(reply);
        Assert.Equal(DnsResponseCode.NoError, reply.ResponseCode);

        // Another process holds the address the next Service asks for: that Service's port fails with a clear message.
        using var squatter = new TcpListener(IPAddress.Parse("127.96.255.200"), 9080);
        squatter.Start();
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: squatted}
            spec: {clusterIP: 127.96.255.200, selector: {app: payment}, ports: [{name: web, port: 9080, targetPort: 8080}]}
            """);
        await Eventually(() => cluster.ServiceProxyFailures.Count == 1, () => ProxyLog(cluster));
        string message = cluster.ServiceProxyFailures.Single().Value;
        Assert.Contains("service default/squatted: the proxy cannot listen on 127.96.255.200:9080 (port \"web\", 9080/TCP)", message);
        Assert.Contains("another process listens on 127.96.255.200:9080", message);
        string ip = (await cluster.GetAsync("v1", "Service", "payment-service"))!.S("spec", "clusterIP")!;
        (int exit, string? body, string? err) = await RunAsync("curl", "-sS", "-m", "5", $"http://{ip}:9080/");
        Assert.True(exit == 0, err);
        Assert.StartsWith("payment-", body);
    }

    /// <summary>Polls what the proxy does outside the store (its listeners and log), up to a deadline.</summary>
    private static async Task Eventually(Func<bool> condition, Func<string> describe)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(20))
            {
                throw new Xunit.Sdk.XunitException("timed out; proxy log:\n" + describe());
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The endpoints the proxy last logged for a service's port.</summary>
    private static string? LastEndpoints(SandboxCluster cluster, string service) =>
        ProxyLog(cluster).Split('\n').LastOrDefault(l => l.StartsWith($"service {service} port ", StringComparison.Ordinal) && l.Contains("127.244."))?.Split("/TCP: ")[1];

    private static string ProxyLog(SandboxCluster cluster)
    {
        string pod = cluster.GetPods("k8s-app=kube-proxy", "kube-system")[0].Name;
        return string.Join("\n", cluster.PodLogs.Find("kube-system", pod, "kube-proxy")!.Read(-1).Lines.Select(l => l.Text));
    }

    [Fact]
    public async Task Without_endpoints_connections_are_reset_and_the_proxy_can_be_turned_off()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false });
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: empty}
            spec: {selector: {app: none}, ports: [{port: 9081}]}
            """);
        string ip = (await cluster.GetAsync("v1", "Service", "empty"))!.S("spec", "clusterIP")!;
        await Eventually(() => ProxyLog(cluster).Contains("service default/empty port " + ip + ":9081/TCP: listening"), () => ProxyLog(cluster));
        (int exit, string _, string? err) = await RunAsync("curl", "-sS", "-m", "5", $"http://{ip}:9081/");
        // Refused or reset at once, never left to time out (28): curl exits 7 when the reset comes during its connect
        // (under load its message is then "Failed to connect ... Could not connect to server"), 52 or 56 after it.
        Assert.True(exit is 7 or 52 or 56, $"curl exited {exit}: {err}");

        await using SandboxCluster off = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, EnableServiceProxy = false });
        Assert.Empty(off.GetPods(ns: "kube-system"));
    }

    [Fact]
    public void Client_ip_affinity_keeps_a_client_on_its_endpoint_until_the_timeout_then_round_robins()
    {
        var time = new FakeTimeProvider();
        var backends = new Backends(time) { AffinityTimeout = TimeSpan.FromSeconds(10) };
        IPEndPoint a = new(IPAddress.Parse("127.244.0.1"), 80), b = new(IPAddress.Parse("127.244.0.2"), 80);
        backends.Set([a, b]);
        var client = IPAddress.Parse("127.0.0.1");
        IPEndPoint first = backends.Pick(client, [])!;
        for (int i = 0; i < 5; i++) { time.Advance(TimeSpan.FromSeconds(9)); Assert.Equal(first, backends.Pick(client, [])); }
        time.Advance(TimeSpan.FromSeconds(11));
        IPEndPoint after = backends.Pick(client, [])!;
        Assert.NotEqual(first, after);                                         // the affinity expired: round-robin again
        backends.Set([first]);
        Assert.Equal(first, backends.Pick(client, []));                        // its endpoint went away: another one
        Assert.Null(backends.Pick(client, [first]));
        backends.Set([a, b]);
        IPEndPoint other = backends.Pick(IPAddress.Parse("127.0.0.2"), [])!;
        Assert.NotEqual(other, backends.Pick(IPAddress.Parse("127.0.0.3"), [])); // each new client takes the next one
    }
}
