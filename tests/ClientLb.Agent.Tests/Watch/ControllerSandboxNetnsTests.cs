using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Agent.Tests.Netns;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Sandbox;

namespace ClientLb.Agent.Tests.Watch;

/// <summary>
/// The real sandbox API server end to end: a selectorless Service gets a sandbox ClusterIP from 127.96.0.0/16, a
/// user-created EndpointSlice points at the test's backend namespaces, and the controller in sidecar mode programs the
/// client namespace (route_localnet and the loopback masquerade rule set there only). Needs root (see <see cref="NetnsFixture"/>).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class ControllerSandboxNetnsTests(NetnsFixture net)
{
    private const string RouteLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet";

    private static string Slice(params string[] addresses) => $$"""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: web-manual, namespace: default, labels: { kubernetes.io/service-name: web } }
        addressType: IPv4
        ports:
        - { name: http, port: {{NetnsFixture.HttpPort}}, protocol: TCP }
        endpoints: [{{string.Join(", ", addresses.Select(a => $"{{ addresses: [{a}], conditions: {{ ready: true }} }}"))}}]
        """;

    [Fact]
    public async Task Curl_reaches_a_sandbox_service_vip_and_follows_slice_updates_down_to_an_immediate_reject()
    {
        string rootRouteLocalnet = File.ReadAllText(RouteLocalnet).Trim();
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Service
            metadata: { name: web, namespace: default }
            spec:
              ports:
              - { name: http, port: 80, protocol: TCP }
            """ + "\n---\n" + Slice(NetnsFixture.BackendAddress(0), NetnsFixture.BackendAddress(1)));
        JsonObject service = (await cluster.GetAsync("v1", "Service", "web", "default"))!;
        string vip = service["spec"]!["clusterIP"]!.GetValue<string>();
        Assert.StartsWith("127.96.", vip, StringComparison.Ordinal);
        string url = $"http://{vip}:80/";

        using var api = KubernetesApiClient.FromConfiguration(KubernetesConnection.TryResolve(
            new Kubernetes.KubernetesSourceOptions { KubeconfigPath = cluster.KubeconfigPath, Mode = Kubernetes.KubernetesConfigMode.Kubeconfig }, out _)!);
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NetworkNamespace = net.Client });
        var batches = Channel.CreateUnbounded<AgentBatch>();
        var controller = new KubernetesAgentController(api, agent, new KubernetesAgentControllerOptions { Services = ["default/web"], OnBatch = b => batches.Writer.TryWrite(b) });
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Task run = controller.RunAsync(stop.Token);
        try
        {
            AgentBatch first = await NextWithEndpointsAsync(batches.Reader, 2, stop.Token);
            Assert.Empty(first.Result.Rejected);
            Assert.Equal("1", Shell.InNs(net.Client, $"cat {RouteLocalnet}").Output.Trim());
            Assert.Equal(["b1", "b2"], Traffic.Curl(net.Client, url, 20).Distinct().Order());

            await cluster.ApplyManifestAsync(Slice(NetnsFixture.BackendAddress(1)));
            await NextWithEndpointsAsync(batches.Reader, 1, stop.Token);
            Assert.Equal(["b2"], Traffic.Curl(net.Client, url, 20).Distinct());

            await cluster.ApplyManifestAsync(Slice());
            await NextWithEndpointsAsync(batches.Reader, 0, stop.Token);
            (int code, string error, TimeSpan elapsed) = Traffic.CurlOnce(net.Client, url, timeoutSeconds: 5);
            Assert.True(code == 7, $"curl exit {code} ({error}): expected 7, connection refused by the reset");
            Assert.True(elapsed < TimeSpan.FromSeconds(2), $"the reject took {elapsed.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture)} ms");
        }
        finally
        {
            await stop.CancelAsync();
            await run;
            await agent.CleanupAsync();
        }
        // Only the client namespace was changed.
        Assert.Equal(rootRouteLocalnet, File.ReadAllText(RouteLocalnet).Trim());
    }

    /// <summary>Reads batches until one sends default/web with <paramref name="count"/> endpoints on its port.</summary>
    private static async Task<AgentBatch> NextWithEndpointsAsync(ChannelReader<AgentBatch> reader, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            AgentBatch batch = await reader.ReadAsync(cancellationToken);
            if (batch.Upserts.SingleOrDefault(s => s.Key == "default/web") is { } web && web.Ports.Single().Endpoints.Length == count)
            {
                Assert.Empty(batch.Result.Rejected);
                return batch;
            }
        }
    }
}
