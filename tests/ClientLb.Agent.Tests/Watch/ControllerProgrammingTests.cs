using System.Threading.Channels;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Agent.Tests.Watch;

/// <summary>
/// The controller's path into accepted rules with a routable 10.96/16 VIP (the sandbox hands out 127.96/16 ones, see
/// <see cref="ControllerSandboxNetnsTests"/>): an in-memory <see cref="IKubernetesApi"/> drives the controller and the
/// test checks the dry-run ruleset: the initial elements, a slice change, and a 410 re-list that lost the slice.
/// </summary>
public sealed class ControllerProgrammingTests
{
    [Fact]
    public async Task Slice_changes_and_a_relist_after_410_reach_the_ruleset()
    {
        var api = new InMemoryKubernetesApi();
        api.Services.Add(new Service
        {
            Metadata = new() { Name = "web", Namespace = "default", ResourceVersion = "1" },
            Spec = new() { ClusterIP = "10.96.0.10", ClusterIPs = ["10.96.0.10"], Ports = [new() { Name = "http", Port = 80 }] },
        });
        api.Slices.Add(Slice("10.231.0.11", "10.231.0.12"));
        var output = new StringWriter();
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Node, DryRun = true, DryRunOutput = output });
        var batches = Channel.CreateUnbounded<AgentBatch>();
        var controller = new KubernetesAgentController(new KubernetesApiClient(api), agent, new KubernetesAgentControllerOptions { OnBatch = b => batches.Writer.TryWrite(b) });
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Task run = controller.RunAsync(stop.Token);

        AgentBatch first = await batches.Reader.ReadAsync(stop.Token);
        Assert.True(first.Full);
        Assert.Empty(first.Result.Rejected);
        Assert.Equal(1, first.Result.ServicesChanged);
        string initial = output.ToString();
        Assert.Contains("10.96.0.10 . tcp . 80 . 0 : 10.231.0.11 . 8080", initial, StringComparison.Ordinal);
        Assert.Contains("10.96.0.10 . tcp . 80 . 1 : 10.231.0.12 . 8080", initial, StringComparison.Ordinal);
        output.GetStringBuilder().Clear();

        await api.SliceEvents.Writer.WriteAsync(new WatchEvent<EndpointSlice> { Type = WatchEventTypes.Modified, Object = Slice("10.231.0.11") }, stop.Token);
        AgentBatch change = await batches.Reader.ReadAsync(stop.Token);
        Assert.False(change.Full);
        Assert.Equal(["default/web"], change.Upserts.Select(s => s.Key));
        Assert.True(change.Result.ElementsDeleted > 0);
        string changed = output.ToString();
        Assert.Contains("delete element", changed, StringComparison.Ordinal);
        Assert.Contains("delete element ip clientlb epx { 10.96.0.10 . tcp . 80 . 1 : 10.231.0.12 . 8080 }", changed, StringComparison.Ordinal);
        output.GetStringBuilder().Clear();

        // The slice went while the watch history expired: the re-list's diff removes it, so the port has no endpoint.
        api.Slices.Clear();
        await api.SliceEvents.Writer.WriteAsync(new WatchEvent<EndpointSlice> { Type = WatchEventTypes.Error, Status = new Status { Code = 410, Message = "too old resource version" } }, stop.Token);
        AgentBatch relisted = await batches.Reader.ReadAsync(stop.Token);
        Assert.False(relisted.Full);
        Assert.Empty(Assert.Single(Assert.Single(relisted.Upserts).Ports).Endpoints);
        Assert.Contains("add element ip clientlb noep { 10.96.0.10 . tcp . 80 }", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, api.SliceLists);
        Assert.Equal([""], api.ListedNamespaces.Distinct()); // node mode without a namespace lists cluster-wide

        await stop.CancelAsync();
        await run;
    }

    internal static EndpointSlice Slice(params string[] addresses) => new()
    {
        Metadata = new() { Name = "web-1", Namespace = "default", ResourceVersion = "2", Labels = new() { ["kubernetes.io/service-name"] = "web" } },
        AddressType = "IPv4",
        Ports = [new() { Name = "http", Port = Netns.NetnsFixture.HttpPort }],
        Endpoints = [.. addresses.Select(a => new Endpoint { Address = a, Conditions = new() { Ready = true } })],
    };
}
