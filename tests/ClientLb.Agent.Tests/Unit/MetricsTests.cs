using ClientLb.Agent.Interop;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Agent.Tests.Unit;

public sealed class MetricsTests
{
    [Fact]
    public async Task Metrics_count_syncs_services_elements_rejections_and_failures_and_health_follows_the_last_sync()
    {
        var runner = new RecordingRunner();
        var time = new FakeTimeProvider();
        using var agent = new NftablesAgent(new NftablesAgentOptions(), runner, null, timeProvider: time);
        Assert.False(agent.Metrics.IsHealthy(TimeSpan.Zero, time.GetUtcNow())); // never synced

        await agent.SyncAsync([Services.Tcp("a", "10.96.0.1", 80, 8080, "10.1.0.1"), Services.Tcp("bad", "10.96.0.300", 80, 8080, "10.1.0.1")]);
        Assert.True(agent.Metrics.IsHealthy(TimeSpan.FromMinutes(1), time.GetUtcNow()));
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.False(agent.Metrics.IsHealthy(TimeSpan.FromMinutes(1), time.GetUtcNow())); // stale

        runner.FailWhen = _ => true;
        await Assert.ThrowsAsync<NftablesException>(() => agent.SyncAsync([Services.Tcp("a", "10.96.0.1", 80, 8080, "10.1.0.2")]));
        Assert.False(agent.Metrics.IsHealthy(TimeSpan.Zero, time.GetUtcNow()));
        Assert.Contains("injected failure", agent.Metrics.LastError);

        var text = new StringWriter();
        agent.Metrics.WritePrometheus(text);
        string metrics = text.ToString();
        Assert.Contains("clientlb_agent_sync_duration_seconds_count 2\n", metrics);
        Assert.Contains("clientlb_agent_sync_duration_seconds_bucket{le=\"+Inf\"} 2\n", metrics);
        Assert.Contains("clientlb_agent_sync_failures_total 1\n", metrics);
        Assert.Contains("clientlb_agent_services 1\n", metrics);
        Assert.Contains("clientlb_agent_elements 4\n", metrics); // epx, cnt, grp, gen (sidecar: no hairpin)
        Assert.Contains("clientlb_agent_rejected_services 1\n", metrics);
        Assert.Contains("# TYPE clientlb_agent_elements gauge\n", metrics);
    }
}
