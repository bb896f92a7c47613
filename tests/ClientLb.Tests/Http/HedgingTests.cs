using System.Diagnostics;
using ClientLb.Tests.Infrastructure;

namespace ClientLb.Tests.Http;

public sealed class HedgingTests
{
    [Fact]
    public async Task A_slow_attempt_is_hedged_to_another_backend_and_the_first_answer_wins()
    {
        await using TestBackend slow = await TestBackend.StartAsync("slow", "127.0.8.2");
        await using TestBackend fast = await TestBackend.StartAsync("fast", "127.0.8.3");
        // The slow backend would hold a request for 20 s; a hedge after 50 ms answers instead and the slow attempt is cancelled.
        slow.Delay = TimeSpan.FromSeconds(20);
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("hedged", slow.Authority, fast.Authority);
        config["ClientLb:Services:hedged:Policy"] = "RoundRobin";
        config["ClientLb:Services:hedged:Hedging:Enabled"] = "true";
        config["ClientLb:Services:hedged:Hedging:Delay"] = "00:00:00.050";
        await using var host = new ClientLbTestHost(config);
        using var hedges = new MeasurementCollector("clientlb.hedges", "hedged.default");
        HttpClient client = host.CreateClient("http://hedged");

        var watch = Stopwatch.StartNew();
        for (int i = 0; i < 4; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            using HttpResponseMessage response = await client.SendAsync(request);
            Assert.Equal("fast", response.Headers.GetValues("x-backend").Single());
            Assert.Same(request, response.RequestMessage);
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        // Every first attempt on the slow backend was hedged (hedge picks advance round-robin too, so that is 2 to 4 of them).
        Assert.InRange(slow.Requests, 2, 4);
        // Each request the slow backend saw was either a first attempt (then hedged) or itself a hedge; a first attempt
        // on the fast backend that took over 50 ms on a loaded machine is hedged too, and that hedge may be cancelled
        // before it reaches the slow backend. So at least one hedge per slow request, and at most one per request.
        Assert.InRange(hedges.Total, slow.Requests, 4);
        Assert.Equal(4, fast.Requests);
    }

    [Fact]
    public async Task Posts_are_not_hedged()
    {
        await using TestBackend slow = await TestBackend.StartAsync("slow", "127.0.8.4");
        await using TestBackend fast = await TestBackend.StartAsync("fast", "127.0.8.5");
        slow.Delay = TimeSpan.FromMilliseconds(300);
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("unhedged", slow.Authority, fast.Authority);
        config["ClientLb:Services:unhedged:Policy"] = "RoundRobin";
        config["ClientLb:Services:unhedged:Hedging:Enabled"] = "true";
        config["ClientLb:Services:unhedged:Hedging:Delay"] = "00:00:00.020";
        await using var host = new ClientLbTestHost(config);
        using var hedges = new MeasurementCollector("clientlb.hedges", "unhedged.default");
        HttpClient client = host.CreateClient("http://unhedged");
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await client.PostAsync("/", new StringContent("x"));
            response.EnsureSuccessStatusCode();
        }
        Assert.Equal(0, hedges.Total);
        Assert.Equal(2, slow.Requests);
        Assert.Equal(2, fast.Requests);
    }
}
