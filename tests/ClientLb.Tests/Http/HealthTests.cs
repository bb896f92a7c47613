using System.Net;
using ClientLb.Balancing;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.Http;

/// <summary>Passive health, panic, sticky sessions and retry budgets over real Kestrel backends, on a clock the test moves.</summary>
public sealed class HealthTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];
    private readonly FakeTimeProvider _time = new();

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            _backends.Add(await TestBackend.StartAsync(((char)('a' + i)).ToString(), $"127.0.7.{i + 2}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (TestBackend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    private ClientLbTestHost Host(string service, Action<Dictionary<string, string?>> configure)
    {
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints(service, [.. _backends.Select(b => b.Authority)]);
        config[$"ClientLb:Services:{service}:Policy"] = "RoundRobin";
        configure(config);
        return new ClientLbTestHost(config, services => services.AddSingleton<TimeProvider>(_time));
    }

    private static async Task<int> Failures(HttpClient client, int requests)
    {
        int failed = 0;
        for (int i = 0; i < requests; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/");
            failed += response.IsSuccessStatusCode ? 0 : 1;
        }
        return failed;
    }

    [Fact]
    public async Task A_backend_answering_503_is_ejected_and_returns_after_an_ejection_time_that_doubles()
    {
        await using ClientLbTestHost host = Host("ejecting", c =>
        {
            c["ClientLb:Services:ejecting:Health:ConsecutiveServerErrors"] = "3";
            c["ClientLb:Services:ejecting:Health:BaseEjectionTime"] = "00:00:30";
        });
        using var ejections = new MeasurementCollector("clientlb.ejections", "ejecting.default");
        using var returns = new MeasurementCollector("clientlb.ejection_returns", "ejecting.default");
        HttpClient client = host.CreateClient("http://ejecting");
        ServiceBalancer balancer = host.Registry.GetBalancer("http://ejecting");
        TestBackend bad = _backends[0];
        bad.StatusCode = 503;

        // Every 503 is retried on another backend, so callers see no failure; after 3 in a row the backend is out.
        Assert.Equal(0, await Failures(client, 30));
        Assert.Equal(3, bad.Requests);
        Assert.Equal(1, ejections.Total);
        Assert.Equal(2, balancer.EligibleCount);

        _time.Advance(TimeSpan.FromSeconds(29));
        await Failures(client, 10);
        Assert.Equal(3, bad.Requests);

        // Back after 30 s; healthy again, it gets its share.
        bad.StatusCode = 200;
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, await Failures(client, 30));
        Assert.Equal(1, returns.Total);
        Assert.InRange(bad.Requests - 3, 9, 11);

        // A second ejection lasts twice as long.
        bad.StatusCode = 503;
        Assert.Equal(0, await Failures(client, 30));
        Assert.Equal(2, ejections.Total);
        int afterSecond = bad.Requests;
        _time.Advance(TimeSpan.FromSeconds(45));
        await Failures(client, 10);
        Assert.Equal(afterSecond, bad.Requests);
        _time.Advance(TimeSpan.FromSeconds(16));
        await Failures(client, 10);
        Assert.True(bad.Requests > afterSecond);
    }

    [Fact]
    public async Task At_most_the_max_ejected_share_is_ejected()
    {
        await using ClientLbTestHost host = Host("capped", c => c["ClientLb:Services:capped:Health:ConsecutiveServerErrors"] = "2");
        using var ejections = new MeasurementCollector("clientlb.ejections", "capped.default");
        HttpClient client = host.CreateClient("http://capped");
        _backends[0].StatusCode = 503;
        _backends[1].StatusCode = 503;
        await Failures(client, 30);
        // 0.5 of 3 endpoints: one ejection allowed.
        Assert.Equal(1, ejections.Total);
        Assert.Equal(2, host.Registry.GetBalancer("http://capped").EligibleCount);
    }

    [Fact]
    public async Task When_too_few_endpoints_are_healthy_the_panic_threshold_uses_them_all()
    {
        await using ClientLbTestHost host = Host("panicky", c =>
        {
            c["ClientLb:Services:panicky:Health:ConsecutiveServerErrors"] = "2";
            c["ClientLb:Services:panicky:Health:MaxEjectedShare"] = "1";
            c["ClientLb:Services:panicky:Health:PanicThreshold"] = "0.5";
        });
        using var panics = new MeasurementCollector("clientlb.panics", "panicky.default");
        HttpClient client = host.CreateClient("http://panicky");
        ServiceBalancer balancer = host.Registry.GetBalancer("http://panicky");
        _backends[0].StatusCode = 503;
        _backends[1].StatusCode = 503;

        await Failures(client, 20);
        // Both failing backends were ejected: one healthy of three is below half, so all three take traffic again.
        Assert.Equal(2, balancer.KnownEndpoints.Count(e => e.IsEjected));
        Assert.True(balancer.InPanic);
        Assert.Equal(1, panics.Total);
        Assert.Equal(3, balancer.EligibleCount);
        int a = _backends[0].Requests, b = _backends[1].Requests;
        await Failures(client, 30);
        Assert.True(_backends[0].Requests > a && _backends[1].Requests > b);

        // They recover, return after their ejection, and panic ends.
        _backends[0].StatusCode = 200;
        _backends[1].StatusCode = 200;
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(0, await Failures(client, 3));
        Assert.False(balancer.InPanic);
    }

    [Fact]
    public async Task The_retry_budget_caps_retries_during_a_full_outage()
    {
        await using ClientLbTestHost host = Host("outage", c =>
        {
            // Budget alone: no ejection, so every attempt reaches a failing backend.
            c["ClientLb:Services:outage:Health:Enabled"] = "false";
            c["ClientLb:Services:outage:RetryBudget:Ratio"] = "0.1";
            c["ClientLb:Services:outage:RetryBudget:MinRetriesPerSecond"] = "1";
        });
        using var retries = new MeasurementCollector("clientlb.retries", "outage.default");
        using var exhausted = new MeasurementCollector("clientlb.retry_budget.exhausted", "outage.default");
        HttpClient client = host.CreateClient("http://outage");
        foreach (TestBackend backend in _backends)
        {
            backend.StatusCode = 503;
        }

        Assert.Equal(200, await Failures(client, 200));
        // 0.1 x 200 requests + 1/s x 10 s window: 30 retries, not the 400 that two retries per request would make; the
        // clock did not move, so one window holds them all. Every request whose retries ran out of budget counts once.
        Assert.Equal(30, retries.Total);
        Assert.InRange(exhausted.Total, 170, 200);
        Assert.Equal(230, _backends.Sum(b => b.Requests));

        // A new window brings the minimum allowance back: 5 requests, each retried twice (10 of the 10.5 allowed).
        _time.Advance(TimeSpan.FromSeconds(11));
        await Failures(client, 5);
        Assert.Equal(40, retries.Total);
    }

    [Fact]
    public async Task Client_ip_sticky_sessions_hold_while_used_and_expire_after_their_timeout()
    {
        await using ClientLbTestHost host = Host("sticky", c =>
        {
            c["ClientLb:Services:sticky:Policy"] = "Sticky";
            c["ClientLb:Locality:Address"] = "10.1.2.3";
        });
        HttpClient client = host.CreateClient("http://sticky");
        async Task<string> Backend() => (await client.GetStringAsync("/")).Split('|')[0];

        string first = await Backend();
        for (int i = 0; i < 10; i++)
        {
            // Each request restarts the idle timer (kube-proxy's timeoutSeconds, 10800 by default).
            _time.Advance(TimeSpan.FromSeconds(10_000));
            Assert.Equal(first, await Backend());
        }
        _time.Advance(TimeSpan.FromSeconds(10_801));
        string second = await Backend();
        Assert.NotEqual(first, second);
        Assert.Equal(second, await Backend());
    }

    [Fact]
    public async Task A_post_is_retried_after_503_only_when_the_caller_allows_it()
    {
        await using ClientLbTestHost host = Host("optin", c =>
        {
            c["ClientLb:Services:optin:Health:Enabled"] = "false";
            c.Remove("ClientLb:Services:optin:Endpoints:2");
        });
        _backends[0].StatusCode = 503;
        HttpClient client = host.CreateClient("http://optin");
        int unavailable = 0;
        for (int i = 0; i < 10; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent("order-" + i) };
            request.Options.Set(ClientLbRequestOptions.AllowRetry, true);
            using HttpResponseMessage response = await client.SendAsync(request);
            unavailable += response.StatusCode == HttpStatusCode.ServiceUnavailable ? 1 : 0;
        }
        // Every POST that met the failing backend was sent again, to the other one, which answered all ten.
        Assert.Equal(0, unavailable);
        Assert.InRange(_backends[0].Requests, 5, 10);
        Assert.Equal(10, _backends[1].Requests);
    }
}
