using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.PortForward;

/// <summary>kubectl 1.32 port-forward (SPDY tunnelled through a websocket, its default) against the sandbox's loopback pods.</summary>
public partial class PortForwardTests
{
    [GeneratedRegex(@"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")]
    private static partial Regex ForwardingLine();

    private static async Task<(SandboxCluster Cluster, Infrastructure.Kubectl Kubectl)> StartAsync()
    {
        _ = Infrastructure.Kubectl.Path;
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.FromSeconds(1) });
        await cluster.ApplyManifestAsync(Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        return (cluster, new Infrastructure.Kubectl(cluster.KubeconfigPath));
    }

    /// <summary>Starts `kubectl port-forward target :remote` and returns the process and the local port it chose.</summary>
    private static async Task<(Process Process, int LocalPort)> ForwardAsync(Infrastructure.Kubectl kubectl, string target, int remote)
    {
        Process process = kubectl.StartStreaming("port-forward", target, $":{remote}");
        string? line = await process.StandardOutput.ReadLineAsync(Deadline.In());
        Match match = ForwardingLine().Match(line ?? "");
        if (!match.Success)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"kubectl port-forward {target} printed \"{line}\"; stderr: {await process.StandardError.ReadToEndAsync()}");
        }
        Assert.Equal(remote.ToString(System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value);
        return (process, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task StopAsync(Process process)
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
    }

    [Fact]
    public async Task Port_forward_to_a_service_reaches_one_of_its_pods()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        var pods = cluster.GetPods("app=my-app").Select(p => p.Name).ToList();
        (Process? process, int port) = await ForwardAsync(kubectl, "svc/my-service", 80);
        try
        {
            // Several requests, new connections each: each one is a new pair of SPDY streams in the same tunnel.
            for (int i = 0; i < 3; i++)
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
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        string pod = cluster.GetPods("app=my-app")[0].Name;
        (Process? process, int port) = await ForwardAsync(kubectl, $"pod/{pod}", 80);
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
            do
            {
                line = await process.StandardError.ReadLineAsync(Deadline.In());
            }
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
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        string pod = cluster.GetPods("app=my-app")[0].Name;
        (int exit, string _, string? stderr) = await kubectl.RunAsync(["port-forward", $"pod/{pod}", ":80"], environment: new Dictionary<string, string> { ["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = "false" });
        Assert.NotEqual(0, exit);
        Assert.Contains("serves port-forward over websockets only", stderr);

        (exit, _, stderr) = await kubectl.RunAsync(["port-forward", "pod/missing", ":80"]);
        Assert.NotEqual(0, exit);
        Assert.Contains("not found", stderr);
    }

    [Fact]
    public async Task The_v4_channel_websocket_protocol_forwards_each_port_on_its_data_channel_and_refuses_a_bad_port()
    {
        (SandboxCluster? cluster, Infrastructure.Kubectl? kubectl) = await StartAsync();
        await using SandboxCluster clusterScope = cluster;
        using Infrastructure.Kubectl kubectlScope = kubectl;
        string pod = cluster.GetPods("app=my-app")[0].Name;
        Uri PortForward(string ports) => new UriBuilder(cluster.ApiServerUri) { Scheme = "ws", Path = $"/api/v1/namespaces/default/pods/{pod}/portforward", Query = $"ports={ports}" }.Uri;

        // A port that is not a number is refused before the upgrade.
        using (var refused = new ClientWebSocket())
        {
            refused.Options.AddSubProtocol("v4.channel.k8s.io");
            refused.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(PortForward("http"), Deadline.In()));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.HttpStatusCode);
        }

        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("v4.channel.k8s.io");
        await ws.ConnectAsync(PortForward("80,9"), Deadline.In());
        Assert.Equal("v4.channel.k8s.io", ws.SubProtocol);

        async Task<(int Channel, byte[] Data)?> ReceiveAsync()
        {
            byte[] buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await ws.ReceiveAsync(buffer, Deadline.In());
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }

                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            byte[] bytes = message.ToArray();
            return (bytes[0], bytes[1..]);
        }

        // First, every channel announces its port (two bytes, little-endian).
        var announced = new List<(int, int)>();
        for (int i = 0; i < 4; i++)
        {
            (int Channel, byte[] Data) m = (await ReceiveAsync())!.Value;
            announced.Add((m.Channel, m.Data[0] | (m.Data[1] << 8)));
        }
        Assert.Equal([(0, 80), (1, 80), (2, 9), (3, 9)], announced);
        // Nothing listens on 9: its error channel says so.
        (int Channel, byte[] Data) error = (await ReceiveAsync())!.Value;
        Assert.Equal(3, error.Channel);
        Assert.Contains("error forwarding port 9", Encoding.UTF8.GetString(error.Data));

        await ws.SendAsync((byte[])[0, .. "GET / HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n"u8], WebSocketMessageType.Binary, true, Deadline.In());
        var response = new StringBuilder();
        while (await ReceiveAsync() is { } m)
        {
            Assert.Equal(0, m.Channel);
            response.Append(Encoding.UTF8.GetString(m.Data));
        }
        Assert.StartsWith("HTTP/1.1 200", response.ToString());
        Assert.EndsWith(pod, response.ToString());
    }
}
