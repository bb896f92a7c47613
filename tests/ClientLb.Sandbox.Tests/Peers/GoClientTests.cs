using System.Diagnostics;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Peers;

/// <summary>
/// The seed's Go PaymentClient (tests/peers/go/paymentclient: Go's net/http, standard library only) built offline with
/// Debian's golang-go and run against the sandbox: it reaches <c>payment-service.finance</c> by its ClusterIP through the
/// userspace service proxy, and every payment pod answers.
/// </summary>
public class GoClientTests
{
    private const string Payment = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: finance}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: payment, namespace: finance}
        spec:
          replicas: 3
          selector: {matchLabels: {app: payment}}
          template:
            metadata: {labels: {app: payment}}
            spec:
              containers:
              - name: payment
                image: payment-service:1.0
                ports: [{containerPort: 8080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: payment-service, namespace: finance}
        spec:
          selector: {app: payment}
          ports: [{port: 80, targetPort: 8080}]
        """;

    private static string PeerDir([System.Runtime.CompilerServices.CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", "..", "peers", "go", "paymentclient"));

    [Fact]
    public async Task The_seed_s_go_client_gets_answers_from_every_pod_through_the_cluster_ip()
    {
        Assert.True(Environment.UserName == "root", "the seed's Service listens on ClusterIP port 80: the sandbox's service proxy needs root to bind it (run the tests as root, as CI does)");
        string work = Directory.CreateTempSubdirectory("clientlb-go-").FullName;
        try
        {
            string binary = Path.Combine(work, "paymentclient");
            (int Exit, string Output) build = await RunAsync("go", ["build", "-o", binary, "."], PeerDir(), new()
            {
                // Offline and self-contained: the module has no requirements, nothing is downloaded.
                ["GOCACHE"] = Path.Combine(work, "cache"), ["GOPATH"] = Path.Combine(work, "gopath"), ["GOPROXY"] = "off", ["GOFLAGS"] = "-mod=mod", ["GO111MODULE"] = "on",
            });
            Assert.True(build.Exit == 0, $"go build failed:\n{build.Output}");

            await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions());
            await cluster.ApplyManifestAsync(Payment);
            await cluster.WaitForReadyEndpointsAsync("payment-service", 3, "finance", Deadline.In());
            var pods = cluster.GetPods("app=payment", "finance").Select(p => p.Name).ToHashSet();
            var env = new Dictionary<string, string> { ["CLUSTER_DNS"] = cluster.DnsEndPoint!.ToString(), ["POD_NAMESPACE"] = "default" };

            // One process, one connection, one request (as the seed's client): the proxy hands each connection to the next ready pod.
            var answered = new HashSet<string>();
            var outputs = new List<string>();
            for (int run = 0; run < 3 * pods.Count && !answered.SetEquals(pods); run++)
            {
                (int exit, string? output) = await RunAsync(binary, [], work, env);
                outputs.Add(output.Trim());
                Assert.True(exit == 0, $"the Go client failed:\n{output}");
                string pod = pods.SingleOrDefault(p => output.Trim() == $"Response: {p}")
                    ?? throw new Xunit.Sdk.XunitException($"the Go client printed '{output.Trim()}', not an answer of a payment pod ({string.Join(", ", pods)})");
                answered.Add(pod);
            }
            Assert.True(answered.SetEquals(pods), $"answered by {string.Join(", ", answered)} of {string.Join(", ", pods)}:\n{string.Join("\n", outputs)}");
            Assert.Empty(cluster.ServiceProxyFailures);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string program, string[] args, string directory, Dictionary<string, string> env)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach ((string? k, string? v) in env)
        {
            psi.Environment[k] = v;
        }

        Process process;
        try { process = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception ex) { throw new Xunit.Sdk.XunitException($"{program} could not be started ({ex.Message}): this test needs Go (apt-get install golang-go; test.sh installs it)."); }
        using Process p = process;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{program} did not finish in 120 s"); }
        return (p.ExitCode, await stdout + await stderr);
    }
}
