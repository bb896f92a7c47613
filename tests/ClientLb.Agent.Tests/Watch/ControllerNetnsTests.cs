using System.Threading.Channels;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Agent.Tests.Netns;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Agent.Tests.Watch;

/// <summary>
/// Watch events to kernel rules: the controller in sidecar mode programs the test's client namespace and curl goes
/// through a routable 10.96/16 VIP (an in-memory API; <see cref="ControllerSandboxNetnsTests"/> does the same with the
/// sandbox's 127.96/16 VIPs). Needs root (see <see cref="NetnsFixture"/>).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class ControllerNetnsTests(NetnsFixture net)
{
    [Fact]
    public async Task Curl_through_a_watched_vip_reaches_the_backends_and_a_slice_update_takes_one_out()
    {
        var api = new InMemoryKubernetesApi();
        api.Services.Add(new Service
        {
            Metadata = new() { Name = "web", Namespace = "default", ResourceVersion = "1" },
            Spec = new() { ClusterIP = "10.96.0.30", ClusterIPs = ["10.96.0.30"], Ports = [new() { Name = "http", Port = 80 }] },
        });
        api.Services.Add(new Service
        {
            Metadata = new() { Name = "unlisted", Namespace = "default", ResourceVersion = "1" },
            Spec = new() { ClusterIP = "10.96.0.31", Ports = [new() { Name = "http", Port = 80 }] },
        });
        api.Slices.Add(ControllerProgrammingTests.Slice(NetnsFixture.BackendAddress(0), NetnsFixture.BackendAddress(1)));
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NetworkNamespace = net.Client });
        var batches = Channel.CreateUnbounded<AgentBatch>();
        var controller = new KubernetesAgentController(new KubernetesApiClient(api), agent, new KubernetesAgentControllerOptions { Services = ["default/web"], OnBatch = b => batches.Writer.TryWrite(b) });
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Task run = controller.RunAsync(stop.Token);
        try
        {
            AgentBatch first = await batches.Reader.ReadAsync(stop.Token);
            Assert.Empty(first.Result.Rejected);
            Assert.Equal(["default/web"], first.Upserts.Select(s => s.Key));
            Assert.Equal(["default"], api.ListedNamespaces.Distinct()); // sidecar: the listed services' namespace only
            Assert.Equal(["b1", "b2"], Traffic.Curl(net.Client, "http://10.96.0.30/", 20).Distinct().Order());
            Assert.NotEqual(0, Traffic.CurlOnce(net.Client, "http://10.96.0.31/", timeoutSeconds: 2).ExitCode); // not selected: no rule

            await api.SliceEvents.Writer.WriteAsync(new WatchEvent<EndpointSlice> { Type = WatchEventTypes.Modified, Object = ControllerProgrammingTests.Slice(NetnsFixture.BackendAddress(0)) }, stop.Token);
            AgentBatch change = await batches.Reader.ReadAsync(stop.Token);
            Assert.Equal(["default/web"], change.Upserts.Select(s => s.Key));
            Assert.Equal(["b1"], Traffic.Curl(net.Client, "http://10.96.0.30/", 20).Distinct());
        }
        finally
        {
            await stop.CancelAsync();
            await run;
            await agent.CleanupAsync();
        }
    }
}
