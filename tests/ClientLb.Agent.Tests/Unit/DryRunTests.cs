using ClientLb.Agent.Interop;

namespace ClientLb.Agent.Tests.Unit;

public sealed class DryRunTests
{
    [Fact]
    public async Task Dry_run_prints_the_ruleset_with_every_service_element()
    {
        var output = new StringWriter();
        using var agent = new NftablesAgent(new NftablesAgentOptions { DryRun = true, DryRunOutput = output });
        await agent.SyncAsync([Services.Udp("dns", "10.96.0.40", 53, 9000, "10.231.0.11", "10.231.0.12")]);
        string text = output.ToString();
        Assert.StartsWith("# transaction\nadd table ip clientlb\n", text);
        Assert.Contains("add element ip clientlb epx { 10.96.0.40 . udp . 53 . 0 : 10.231.0.11 . 9000, 10.96.0.40 . udp . 53 . 1 : 10.231.0.12 . 9000 }", text);
        Assert.DoesNotContain("add element ip clientlb noep", text);
    }
}
