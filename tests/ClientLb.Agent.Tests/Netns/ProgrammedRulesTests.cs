using System.Text.Json;
using ClientLb.Agent.Diagnostics;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>
/// The agent's read-only view of what it programmed (<c>/rules</c>): after real syncs into a test namespace's nftables,
/// it lists exactly the backends curl through the VIP reaches, the endpoints left out with their reasons, and rejections.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class ProgrammedRulesTests : IDisposable
{
    private readonly NetnsFixture _net;
    private readonly NftablesAgent _agent;

    public ProgrammedRulesTests(NetnsFixture net)
    {
        _net = net;
        _agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NetworkNamespace = net.Client });
    }

    public void Dispose()
    {
        _agent.CleanupAsync().GetAwaiter().GetResult();
        _agent.Dispose();
    }

    [Fact]
    public async Task Rules_list_the_programmed_backends_the_vip_reaches_and_follow_each_sync()
    {
        ProgrammedRules before = await _agent.GetProgrammedRulesAsync();
        Assert.Empty(before.Services);
        Assert.Null(before.LastSuccess);

        string b1 = NetnsFixture.BackendAddress(0), b2 = NetnsFixture.BackendAddress(1), b3 = NetnsFixture.BackendAddress(2);
        ServiceState web = Services.Tcp("web", "10.96.0.10", 80, NetnsFixture.HttpPort, b1, b2, "0.0.0.0");
        var bad = new ServiceState("default", "bad", ["not-an-ip"], Services.Tcp("bad", "10.96.0.11", 80, NetnsFixture.HttpPort, b3).Ports);
        SyncResult first = await _agent.SyncAsync([web, bad]);
        Assert.Single(first.Rejected);

        ProgrammedRules rules = await _agent.GetProgrammedRulesAsync();
        Assert.Equal("sidecar", rules.Mode);
        Assert.Equal(_net.Client, rules.NetworkNamespace);
        Assert.Equal(["ip clientlb", "ip6 clientlb"], rules.Tables);
        Assert.NotNull(rules.LastSuccess);
        Assert.Null(rules.LastError);
        ProgrammedService programmed = Assert.Single(rules.Services);
        Assert.Equal(("default", "web"), (programmed.Namespace, programmed.Name));
        ProgrammedPort port = Assert.Single(programmed.Ports);
        Assert.Equal(("10.96.0.10", "tcp", 80, "http"), (port.Vip, port.Protocol, port.Port, port.Name));
        Assert.Equal([$"{b1}:{NetnsFixture.HttpPort}", $"{b2}:{NetnsFixture.HttpPort}"], port.Endpoints.Select(e => $"{e.Address}:{e.Port}").Order(StringComparer.Ordinal));
        Assert.Contains("0.0.0.0", Assert.Single(programmed.DroppedEndpoints), StringComparison.Ordinal);
        ServiceRejection rejection = Assert.Single(rules.Rejected);
        Assert.Equal("default/bad", rejection.Service);
        Assert.Contains("not-an-ip", rejection.Reason, StringComparison.Ordinal);

        // What the rules list is what the kernel does: curl through the VIP reaches exactly those backends.
        Assert.Equal(["b1", "b2"], Traffic.Curl(_net.Client, "http://10.96.0.10/", 30).Distinct().Order());

        await _agent.ApplyAsync([Services.Tcp("web", "10.96.0.10", 80, NetnsFixture.HttpPort, b3)], ["default/bad"]);
        rules = await _agent.GetProgrammedRulesAsync();
        port = Assert.Single(Assert.Single(rules.Services).Ports);
        Assert.Equal([$"{b3}:{NetnsFixture.HttpPort}"], port.Endpoints.Select(e => $"{e.Address}:{e.Port}"));
        Assert.Empty(rules.Rejected);
        Assert.Equal(["b3"], Traffic.Curl(_net.Client, "http://10.96.0.10/", 10).Distinct());

        // The JSON document served at /rules.
        using JsonDocument json = JsonDocument.Parse(rules.ToJsonBytes());
        JsonElement jsonPort = json.RootElement.GetProperty("services")[0].GetProperty("ports")[0];
        Assert.Equal("10.96.0.10", jsonPort.GetProperty("vip").GetString());
        Assert.Equal(b3, jsonPort.GetProperty("endpoints")[0].GetProperty("address").GetString());
        Assert.True(json.RootElement.GetProperty("lastSync").GetProperty("ok").GetBoolean());

        await _agent.SyncAsync([Services.Tcp("web", "10.96.0.10", 80, NetnsFixture.HttpPort)]);
        port = Assert.Single(Assert.Single((await _agent.GetProgrammedRulesAsync()).Services).Ports);
        Assert.Empty(port.Endpoints);
        Assert.NotNull(port.EmptyReason);
    }
}
