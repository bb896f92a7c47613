using ClientLb.Balancing;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.Http;

/// <summary>Ejected endpoints are probed: a restarted backend returns as soon as it accepts, not after its ejection time.</summary>
public sealed class ProbeTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_restarted_backend_returns_at_the_next_probe_instead_of_after_its_ejection_time()
    {
        await using TestBackend a = await TestBackend.StartAsync("a", "127.0.9.12");
        TestBackend b = await TestBackend.StartAsync("b", "127.0.9.13");
        await using TestBackend c = await TestBackend.StartAsync("c", "127.0.9.14");
        int port = b.Port;
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("restarting", a.Authority, b.Authority, c.Authority);
        config["ClientLb:Services:restarting:Policy"] = "RoundRobin";
        config["ClientLb:Services:restarting:Health:ConsecutiveConnectionFailures"] = "2";
        config["ClientLb:Services:restarting:Health:BaseEjectionTime"] = "00:00:30";
        config["ClientLb:Services:restarting:Health:ProbeInterval"] = "00:00:00.5";
        await using var host = new ClientLbTestHost(config, services => services.AddSingleton<TimeProvider>(_time));
        HttpClient client = host.CreateClient("http://restarting");
        BalancedEndpoint endpointB = host.Registry.GetBalancer("http://restarting").KnownEndpoints.Single(e => e.Endpoint.Authority == b.Authority);

        await b.DisposeAsync();
        for (int i = 0; i < 9; i++)
        {
            (await client.GetAsync("/")).EnsureSuccessStatusCode();
        }
        Assert.True(endpointB.IsEjected);

        await using TestBackend restarted = await TestBackend.StartAsync("b", "127.0.9.13", port: port);
        Assert.True(endpointB.IsEjected, "no probe is due yet");
        // The next probe (0.5 s later on the test's clock, far short of the 30 s ejection) finds it listening.
        _time.Advance(TimeSpan.FromSeconds(0.5));
        await WaitUntilAsync(() => !endpointB.IsEjected);

        for (int i = 0; i < 9; i++)
        {
            (await client.GetAsync("/")).EnsureSuccessStatusCode();
        }
        Assert.Equal(3, restarted.Requests);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        DateTime give = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < give, "the condition did not hold within 10 s");
            await Task.Delay(10);
        }
    }
}
