using System.Diagnostics;
using System.Text.RegularExpressions;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.PortForward;

/// <summary>kubectl 1.32 port-forward (SPDY tunnelled through a websocket, its default) against the sandbox's loopback pods.</summary>
public partial class PortForwardTests
{
    [GeneratedRegex(@"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")]
    private static partial Regex ForwardingLine();

    static async Task<(SandboxCluster Cluster, Infrastructure.Kubectl Kubectl)> StartAsync()
    {
        _ = Infrastructure.Kubectl.Path;
        var cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.FromSeconds(1) });
        await cluster.ApplyManifestAsync(Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        return (cluster, new Infrastructure.Kubectl(cluster.KubeconfigPath));
    }

    /// <summary>Starts `kubectl port-forward target :remote` and returns the process and the local port it chose.</summary>
    static async Task<(Process Process, int LocalPort)> ForwardAsync(Infrastructure.Kubectl kubectl, string target, int remote)
    {
        var process = kubectl.StartStreaming("port-forward", target, $":{remote}");
        var line = await process.StandardOutput.ReadLineAsync(Deadline.In());
        var match = ForwardingLine().Match(line ?? "");
        if (!match.Success)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"kubectl port-forward {target} printed \"{line}\"; stderr: {await process.StandardError.ReadToEndAsync()}");
        }
        Assert.Equal(remote.ToString(System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value);
        return (process, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    static async Task StopAsync(Process process)
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
    }

    [Fact]
    public async Task Port_forward_to_a_service_reaches_one_of_its_pods()
    {
        var (cluster, kubectl) = await StartAsync();
        await using var clusterScope = cluster;
        using var kubectlScope = kubectl;
        var pods = cluster.GetPods("app=my-app").Select(p => p.Name).ToList();
        var (process, port) = await ForwardAsync(kubectl, "svc/my-service", 80);
        try
        {
            // Several requests, new connections each: each one is a new pair of SPDY streams in the same tunnel.
            for (var i = 0; i < 3; i++)
            {
                using var http = new HttpClient();
                Assert.Contains(await http.GetStringAsync($"http://127.0.0.1:{port}/", Deadline.In()), pods);
            }
            // And one keep-alive connection carrying two requests.
            using var keepAlive = new HttpClient();
            Assert.Contains(await keepAlive.GetStringAsync($"http://127.0.0.1:{port}/a", Deadline.In()), pods);
            Assert.Contains(await keepAlive.GetStringAsync($"http://127.0.0.1:{port}/b", Deadline.In()), pods);
        }
        finally
        {
            await StopAsync(process);
        }
    }

    [Fact]
    public async Task Port_forward_to_a_pod_and_a_refused_port_reports_the_error()
    {
        var (cluster, kubectl) = await StartAsync();
        await using var clusterScope = cluster;
        using var kubectlScope = kubectl;
        var pod = cluster.GetPods("app=my-app")[0].Name;
        var (process, port) = await ForwardAsync(kubectl, $"pod/{pod}", 80);
        try
        {
            using var http = new HttpClient();
            Assert.Equal(pod, await http.GetStringAsync($"http://127.0.0.1:{port}/", Deadline.In()));
        }
        finally
        {
            await StopAsync(process);
        }

        // Nothing listens on 9 in the pod: the request fails and kubectl prints the error the sandbox sent on the error stream.
        (process, port) = await ForwardAsync(kubectl, $"pod/{pod}", 9);
        try
        {
            using var http = new HttpClient();
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetStringAsync($"http://127.0.0.1:{port}/", Deadline.In()));
            string? line;
            do line = await process.StandardError.ReadLineAsync(Deadline.In());
            while (line is not null && !line.Contains("error forwarding port 9", StringComparison.Ordinal));
            Assert.NotNull(line);
            Assert.Contains($"pod default/{pod}", line);
        }
        finally
        {
            await StopAsync(process);
        }
    }

    [Fact]
    public async Task The_direct_SPDY_upgrade_is_declined_with_a_message_saying_why()
    {
        var (cluster, kubectl) = await StartAsync();
        await using var clusterScope = cluster;
        using var kubectlScope = kubectl;
        var pod = cluster.GetPods("app=my-app")[0].Name;
        var (exit, _, stderr) = await kubectl.RunAsync(["port-forward", $"pod/{pod}", ":80"], environment: new Dictionary<string, string> { ["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = "false" });
        Assert.NotEqual(0, exit);
        Assert.Contains("serves port-forward over websockets only", stderr);

        (exit, _, stderr) = await kubectl.RunAsync(["port-forward", "pod/missing", ":80"]);
        Assert.NotEqual(0, exit);
        Assert.Contains("not found", stderr);
    }
}
