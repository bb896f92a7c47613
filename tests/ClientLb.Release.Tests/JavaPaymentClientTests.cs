using System.Net;
using System.Net.Sockets;
using ClientLb.Samples.PaymentService;

namespace ClientLb.Release.Tests;

/// <summary>
/// Seed 003's Java PaymentClient, unchanged (deploy/overlays/sidecar/java/PaymentClient.java, the file the sidecar
/// overlay ships in a ConfigMap), run with the JDK's single-file source launcher, reaches the same payment pods as the
/// .NET PaymentClient, through the sandbox's userspace ClusterIP proxy instead of in-process balancing.
/// </summary>
public class JavaPaymentClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly string Peer = Path.Combine(PackagedAppTests.RepoRoot, "deploy", "overlays", "sidecar", "java");

    [Fact]
    public async Task The_seed_s_java_client_gets_answers_from_every_payment_pod_through_the_cluster_ip()
    {
        Assert.True(Environment.UserName == "root", "the seed's Service listens on ClusterIP port 80: the sandbox's service proxy needs root to bind it (run the tests as root, as CI does)");
        using var start = new CancellationTokenSource(Timeout);
        await using PaymentSandbox sandbox = await PaymentSandbox.StartAsync(3, cancellationToken: start.Token);
        HashSet<string> pods = [.. sandbox.Cluster.GetPods("app=payment", "finance").Select(p => p.Name)];

        // A pod's resolver turns payment-service.finance into payment-service.finance.svc.cluster.local (search
        // domains) and asks the cluster DNS; the JVM gets that answer through its hosts-file resolver
        // (jdk.net.hosts.file), since the sandbox's DNS server is not on port 53.
        IPEndPoint dns = sandbox.Cluster.DnsEndPoint ?? throw new InvalidOperationException("the sandbox runs no cluster DNS");
        string clusterIp = (await PackagedAppTests.RunAsync("dig", $"@{dns.Address} -p {dns.Port} +short payment-service.finance.svc.cluster.local A", Peer)).Trim();
        Assert.True(IPAddress.TryParse(clusterIp, out _), $"the cluster DNS answered '{clusterIp}' for payment-service.finance.svc.cluster.local");
        await WaitForProxyAsync(sandbox, clusterIp, start.Token);

        string hosts = Path.Combine(Path.GetTempPath(), $"clientlb-java-hosts-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(hosts, $"{clusterIp} payment-service.finance\n", start.Token);
        try
        {
            // One JVM, one connection: the proxy hands each connection to the next ready pod, round-robin.
            var answered = new HashSet<string>();
            for (int run = 0; run < 2 * pods.Count && !answered.SetEquals(pods); run++)
            {
                string output = (await PackagedAppTests.RunAsync("java", $"-Djdk.net.hosts.file={hosts} PaymentClient.java", Peer)).Trim();
                string pod = pods.SingleOrDefault(p => output == $"payment processed by {p}")
                    ?? throw new Xunit.Sdk.XunitException($"the Java client printed '{output}', not an answer of a payment pod ({string.Join(", ", pods)})");
                answered.Add(pod);
            }
            Assert.Equal(pods.Order(), answered.Order());
        }
        finally
        {
            File.Delete(hosts);
        }
    }

    private static async Task WaitForProxyAsync(PaymentSandbox sandbox, string clusterIp, CancellationToken cancellationToken)
    {
        while (true)
        {
            Assert.True(sandbox.Cluster.ServiceProxyFailures.Count == 0, "the service proxy failed: " + string.Join("; ", sandbox.Cluster.ServiceProxyFailures.Values));
            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Parse(clusterIp), 80, cancellationToken);
                return;
            }
            catch (SocketException) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }
}
