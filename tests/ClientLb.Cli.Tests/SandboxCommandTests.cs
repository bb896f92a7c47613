using System.Diagnostics;

namespace ClientLb.Cli.Tests;

/// <summary><c>clientlb sandbox</c> run in-process, checked with the real kubectl and dig against what it prints.</summary>
public class SandboxCommandTests
{
    private const string Manifest = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: hello
        spec:
          replicas: 2
          selector:
            matchLabels: { app: hello }
          template:
            metadata:
              labels: { app: hello }
            spec:
              containers:
              - name: app
                image: hello:1
                ports:
                - { name: http, containerPort: 8080 }
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: hello
        spec:
          selector: { app: hello }
          ports:
          - { name: http, port: 80, targetPort: http }
        """;

    private static async Task<string> RunToolAsync(string tool, string missingHint, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException($"{tool} is not installed: {missingHint}");
        }
        using (process)
        {
            string stdout = await process.StandardOutput.ReadToEndAsync();
            string stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', args)} failed: {stderr}");
            return stdout;
        }
    }

    [Fact]
    public async Task Runs_until_cancelled_and_serves_kubectl_and_dns()
    {
        string manifest = Path.Combine(Path.GetTempPath(), $"clientlb-cli-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(manifest, Manifest);
        try
        {
            await using RunningSandbox sandbox = await RunningSandbox.StartAsync("-f", manifest);
            string kubeconfig = sandbox.Value("kubeconfig: ");
            string dns = sandbox.Value("cluster dns: ").Split(' ')[0];

            string pods = await RunToolAsync("kubectl", "the sandbox is checked with the real kubectl (test.sh installs it)",
                "--kubeconfig", kubeconfig, "wait", "--for=condition=Ready", "pod", "-l", "app=hello", "--timeout=30s");
            Assert.Contains("condition met", pods);
            string svc = await RunToolAsync("kubectl", "the sandbox is checked with the real kubectl", "--kubeconfig", kubeconfig, "get", "svc", "hello", "-o", "jsonpath={.spec.clusterIP}");
            string[] endpoint = dns.Split(':');
            string answer = await RunToolAsync("dig", "install Debian's dnsutils (test.sh does)", $"@{endpoint[0]}", "-p", endpoint[1], "+short", "hello.default.svc.cluster.local", "A");
            Assert.Equal(svc.Trim(), answer.Trim());
        }
        finally
        {
            File.Delete(manifest);
        }
    }

    [Fact]
    public async Task A_missing_manifest_is_named()
    {
        var error = new StringWriter();
        int code = await CliApp.RunAsync(["sandbox", "-f", "/nonexistent/app.yaml"], new StringWriter(), error);
        Assert.Equal(1, code);
        Assert.Contains("'/nonexistent/app.yaml' does not exist", error.ToString());
    }
}
