using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.Http;

/// <summary>Policies over real Kestrel backends on loopback: latency awareness, weights and affinity.</summary>
public sealed class PolicyBalancingTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 5; i++)
        {
            _backends.Add(await TestBackend.StartAsync(((char)('a' + i)).ToString(), $"127.0.6.{i + 2}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (TestBackend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    private static Dictionary<string, string?> Config(string service, string policy, params TestBackend[] backends)
    {
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints(service, [.. backends.Select(b => b.Authority)]);
        config[$"ClientLb:Services:{service}:Policy"] = policy;
        return config;
    }

    private static async Task<Dictionary<string, int>> SendConcurrently(HttpClient client, int requests, int concurrency)
    {
        var seen = new Dictionary<string, int>();
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (_, ct) =>
        {
            string name = (await client.GetStringAsync("/", ct)).Split('|')[0];
            lock (seen)
            {
                seen[name] = seen.GetValueOrDefault(name) + 1;
            }
        });
        return seen;
    }

    private async Task<double> SlowShare(string policy)
    {
        await using var host = new ClientLbTestHost(Config("slow-" + policy.ToLowerInvariant(), policy, _backends[0], _backends[1], _backends[2]));
        HttpClient client = host.CreateClient("http://slow-" + policy.ToLowerInvariant());
        Dictionary<string, int> seen = await SendConcurrently(client, 240, 8);
        return seen.GetValueOrDefault("a") / 240.0;
    }

    [Fact]
    public async Task Power_of_two_choices_sends_less_traffic_to_a_slow_backend_than_round_robin()
    {
        // Backend a takes 40 ms; b and c answer at once. Requests in flight pile up on a, and P2C sees them.
        _backends[0].Delay = TimeSpan.FromMilliseconds(40);
        double roundRobin = await SlowShare("RoundRobin");
        double p2c = await SlowShare("PowerOfTwoChoices");
        Assert.InRange(roundRobin, 0.32, 0.35);
        Assert.True(p2c < roundRobin / 2, $"P2C sent {p2c:P0} to the slow backend; round-robin {roundRobin:P0}");
    }

    [Fact]
    public async Task Peak_ewma_moves_traffic_off_a_backend_whose_latency_rises()
    {
        // The balancer measures latency on the test's clock, and each backend moves that clock by its service time before
        // it answers. Requests go one at a time, so every measured latency is exactly a backend's service time: how
        // slowly a loaded machine schedules the requests counts for nothing.
        var time = new FakeTimeProvider();
        TestBackend[] backends = [_backends[0], _backends[1], _backends[2]];
        Dictionary<TestBackend, TimeSpan> serviceTime = backends.ToDictionary(b => b, _ => TimeSpan.FromMilliseconds(1));
        foreach (TestBackend backend in backends)
        {
            backend.BeforeAnswer = () => time.Advance(serviceTime[backend]);
        }
        await using var host = new ClientLbTestHost(Config("ewma", "PeakEwma", backends), services => services.AddSingleton<TimeProvider>(time));
        HttpClient client = host.CreateClient("http://ewma");
        await SendConcurrently(client, 300, 1);
        // The busiest backend so far now slows down (1 ms -> 50 ms).
        TestBackend slowing = backends.MaxBy(b => b.Requests)!;
        Assert.True(slowing.Requests >= 100, $"{slowing.Name} had {slowing.Requests} of 300");

        serviceTime[slowing] = TimeSpan.FromMilliseconds(50);
        int before = slowing.Requests;
        Dictionary<string, int> seen = await SendConcurrently(client, 300, 1);
        int toSlow = slowing.Requests - before;
        // Its first slow answer raises its estimate at once (peak) to 50 ms; with a 10 s decay it stays well above the
        // others' 1 ms for the rest of this run (0.35 s on the clock), so it wins no pick after that one answer.
        Assert.Equal(1, toSlow);
        Assert.Equal(299, seen.Where(s => s.Key != slowing.Name).Sum(s => s.Value));
    }

    [Fact]
    public async Task Weights_from_configuration_split_traffic_in_proportion()
    {
        var config = new Dictionary<string, string?>
        {
            ["ClientLb:Services:weighted:Endpoints:0"] = _backends[0].Authority + ";weight=1",
            ["ClientLb:Services:weighted:Endpoints:1"] = _backends[1].Authority + "; weight=3",
            ["ClientLb:Services:weighted:Policy"] = "Weighted",
        };
        await using var host = new ClientLbTestHost(config);
        HttpClient client = host.CreateClient("http://weighted");
        for (int i = 0; i < 200; i++)
        {
            await client.GetStringAsync("/");
        }
        Assert.Equal(50, _backends[0].Requests);
        Assert.Equal(150, _backends[1].Requests);
    }

    [Fact]
    public async Task Hash_affinity_keeps_each_key_on_one_backend_and_moves_about_one_in_n_when_one_is_added()
    {
        Dictionary<string, string?> config = Config("affine", "Hash", _backends[0], _backends[1], _backends[2], _backends[3]);
        config["ClientLb:Services:affine:Affinity:Key"] = "Header";
        config["ClientLb:Services:affine:Affinity:Name"] = "x-user";
        await using var host = new ClientLbTestHost(config);
        HttpClient client = host.CreateClient("http://affine");

        async Task<string> Owner(int user)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("x-user", "user-" + user);
            using HttpResponseMessage response = await client.SendAsync(request);
            return response.Headers.GetValues("x-backend").Single();
        }

        const int users = 200;
        string[] before = new string[users];
        for (int u = 0; u < users; u++)
        {
            before[u] = await Owner(u);
            Assert.Equal(before[u], await Owner(u));
        }
        Assert.Equal(4, before.Distinct().Count());

        config["ClientLb:Services:affine:Endpoints:4"] = _backends[4].Authority;
        host.Configuration.Replace(config);
        // A reload is applied synchronously: the client's balancer (scheme http) has a new picker when Replace returns.
        Assert.Equal(5, host.Registry.GetBalancer("http://affine").EligibleCount);

        int moved = 0, movedBetweenOld = 0;
        for (int u = 0; u < users; u++)
        {
            string now = await Owner(u);
            moved += now != before[u] ? 1 : 0;
            movedBetweenOld += now != before[u] && now != "e" ? 1 : 0;
        }
        // Ideal: 1/5 of the keys (40 of 200) move, to the new backend; Maglev moves a few more between old ones (a few
        // percent: the unit tests measure it over 20 000 keys with fixed names). Here the backends' ports are random, and
        // over 400 random port sets Maglev moved 27-75 of these 200 keys (median 42) and 0-30 between old backends
        // (median 2); a hash that is not consistent (key mod n) would move about 160, and 120 between old ones.
        Assert.InRange(moved, 20, 100);
        Assert.InRange(movedBetweenOld, 0, 45);
    }
}
