using System.Net;
using ClientLb.Balancing;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Dashboard.Tests;

/// <summary>The hub's rates, change signal and service tracking, on a clock the test moves.</summary>
public sealed class DashboardHubTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
    private readonly TestSourceFactory _sources;
    private ServiceProvider _provider = null!;

    public DashboardHubTests() => _sources = new TestSourceFactory { Time = _time };

    private ServiceRegistry Registry => _provider.GetRequiredService<ServiceRegistry>();

    public Task InitializeAsync()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddSingleton<IEndpointSourceFactory>(_sources);
        services.AddClientLb();
        _provider = services.BuildServiceProvider();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    private static Endpoint At(string address) => new(IPAddress.Parse(address), 8080);

    [Fact]
    public void Picks_per_second_are_the_picks_of_the_last_refresh_interval_and_totals_keep_counting()
    {
        _sources.Add("rated").Set(At("10.2.0.1"), At("10.2.0.2"));
        ServiceBalancer balancer = Registry.GetBalancer("rated");
        using var hub = new DashboardHub(Registry, new ClientLbDashboardOptions());
        BalancedEndpoint first = balancer.Picker.Endpoints.Single(e => e.Endpoint.Host == "10.2.0.1");
        for (int i = 0; i < 30; i++)
        {
            Registry.Metrics.Picked(first);
        }
        _time.Advance(TimeSpan.FromSeconds(1));
        (ServiceSummary summary, ServiceFacts facts, EndpointRow[] rows) = hub.Detail("rated.default")!.Value;
        Assert.Equal(30, facts.Picks);
        Assert.Equal(30, summary.PicksPerSecond);
        Assert.Equal(30, hub.Current().Summaries.Single().PicksPerSecond);
        Assert.Equal([30, 0], rows.Select(r => r.Picks));
        Assert.Equal([30.0, 0], rows.Select(r => r.PicksPerSecond));

        // A quiet second: the rate drops to zero, the total stays.
        _time.Advance(TimeSpan.FromSeconds(1));
        (summary, facts, rows) = hub.Detail("rated.default")!.Value;
        Assert.Equal(0, summary.PicksPerSecond);
        Assert.Equal(30, facts.Picks);
        Assert.Equal(30, rows[0].Picks);
    }

    [Fact]
    public async Task An_endpoint_change_completes_the_change_signal_at_once_and_a_new_service_appears_at_the_next_refresh()
    {
        TestSource source = _sources.Add("signalled");
        source.Set(At("10.3.0.1"));
        Registry.GetBalancer("signalled");
        using var hub = new DashboardHub(Registry, new ClientLbDashboardOptions());
        Assert.Equal(["signalled.default"], hub.Current().Summaries.Select(s => s.Key));

        Task changed = hub.Changed;
        Assert.False(changed.IsCompleted);
        source.Set(At("10.3.0.1"), At("10.3.0.2"));
        await changed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, hub.Current().Summaries.Single().Endpoints);

        // A source failure (a status change that keeps the endpoints) signals too.
        changed = hub.Changed;
        source.Fail(new InvalidOperationException("api server gone"));
        await changed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("api server gone", hub.Current().Summaries.Single().SourceError);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(30, hub.Current().Summaries.Single().StalenessSeconds);

        _sources.Add("later").Set(At("10.3.1.1"));
        Registry.GetBalancer("later");
        changed = hub.Changed;
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(changed.IsCompleted);
        Assert.Equal(["later.default", "signalled.default"], hub.Current().Summaries.Select(s => s.Key));
        Assert.Null(hub.Detail("nowhere.default"));
    }

    [Fact]
    public void The_counters_of_endpoints_that_left_are_forgotten()
    {
        TestSource source = _sources.Add("churned");
        source.Set(At("10.4.0.1"), At("10.4.0.2"));
        ServiceBalancer balancer = Registry.GetBalancer("churned");
        using var hub = new DashboardHub(Registry, new ClientLbDashboardOptions());
        foreach (BalancedEndpoint endpoint in balancer.Picker.Endpoints)
        {
            Registry.Metrics.Picked(endpoint);
        }
        source.Set(At("10.4.0.2"));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal((0, 0), hub.Picks.Get("churned.default", "10.4.0.1:8080"));
        Assert.Equal(1, hub.Picks.Get("churned.default", "10.4.0.2:8080").Total);
    }
}
