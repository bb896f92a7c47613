using ClientLb.Samples.PaymentClient;
using ClientLb.Samples.PaymentProtocol;
using ClientLb.Samples.PaymentService;
using ClientLb.Sandbox;
using Grpc.Net.Client;

namespace ClientLb.Release.Tests;

/// <summary>Seed 003 in .NET: the PaymentClient sample against PaymentService on the sandbox's payment pods.</summary>
public class PaymentSampleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_client_gets_answers_from_every_payment_pod_and_follows_a_scale()
    {
        using var start = new CancellationTokenSource(Timeout);
        await using PaymentSandbox sandbox = await PaymentSandbox.StartAsync(3, cancellationToken: start.Token);
        HashSet<string> pods = [.. sandbox.Cluster.GetPods("app=payment", "finance").Select(p => p.Name)];
        Assert.Equal(3, pods.Count);

        var output = new StringWriter();
        int exit = await PaymentClientApp.RunAsync(["--kubeconfig", sandbox.Cluster.KubeconfigPath, "--requests", "9"], output);
        Assert.True(exit == 0, output.ToString());
        foreach (string pod in pods)
        {
            Assert.Contains($"answered by {pod}: payment processed by {pod}", output.ToString());
        }
        Assert.Contains("9 answered, 0 failed", output.ToString());

        await sandbox.Cluster.ScaleDeploymentAsync("payment", 4, "finance");
        using var scaled = new CancellationTokenSource(Timeout);
        await sandbox.Cluster.WaitForReadyEndpointsAsync("payment-service", 4, "finance", scaled.Token);
        while (sandbox.ServedPods.Count != 4)
        {
            await Task.Delay(50, scaled.Token);
        }
        output = new StringWriter();
        exit = await PaymentClientApp.RunAsync(["--kubeconfig", sandbox.Cluster.KubeconfigPath, "--requests", "8"], output);
        Assert.True(exit == 0, output.ToString());
        foreach (string pod in sandbox.Cluster.GetPods("app=payment", "finance").Select(p => p.Name))
        {
            Assert.Contains($"answered by {pod}:", output.ToString());
        }
    }

    [Fact]
    public async Task The_one_command_runs_the_service_on_the_sandbox_and_the_client_against_it()
    {
        string output = await PackagedAppTests.RunAsync("bash", "samples/payment-on-sandbox.sh 9", PackagedAppTests.RepoRoot);
        string serving = output.Split('\n').Single(l => l.StartsWith("payment-service.finance: 3 pods serving (", StringComparison.Ordinal));
        string[] pods = serving[(serving.IndexOf('(') + 1)..serving.IndexOf(')')].Split(", ");
        Assert.Equal(3, pods.Length);
        foreach (string pod in pods)
        {
            Assert.Contains($"answered by {pod}: payment processed by {pod}", output);
        }
        Assert.Contains("9 answered, 0 failed", output);
    }

    [Fact]
    public async Task Every_pod_serves_the_grpc_method()
    {
        using var start = new CancellationTokenSource(Timeout);
        await using PaymentSandbox sandbox = await PaymentSandbox.StartAsync(2, cancellationToken: start.Token);
        foreach (SandboxPod pod in sandbox.Cluster.GetPods("app=payment", "finance"))
        {
            using GrpcChannel channel = GrpcChannel.ForAddress($"http://{pod.IP}:8081");
            ProcessReply reply = await new Payments.PaymentsClient(channel).ProcessAsync(new ProcessRequest { OrderId = "o-1" });
            Assert.Equal(pod.Name, reply.Pod);
            Assert.Equal("o-1", reply.OrderId);
        }
    }

    [Fact]
    public async Task A_missing_kubeconfig_fails_each_request_naming_the_file()
    {
        var output = new StringWriter();
        string missing = Path.Combine(Path.GetTempPath(), "clientlb-no-kubeconfig-" + Guid.NewGuid().ToString("N"));
        int exit = await PaymentClientApp.RunAsync(["--kubeconfig", missing, "--requests", "2"], output);
        Assert.Equal(1, exit);
        Assert.Contains($"#1 failed: Kubernetes configuration '{missing}': the file does not exist", output.ToString());
        Assert.Contains("0 answered, 2 failed", output.ToString());
    }
}
