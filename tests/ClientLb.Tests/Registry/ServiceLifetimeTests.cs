using ClientLb.Balancing;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using ClientLb.Testing;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ClientLb.Tests.Registry;

/// <summary>Leases on balancers: a service no lease holds lingers for the idle timeout, then its balancer and source stop.</summary>
public sealed class ServiceLifetimeTests
{
    // Only stops a hung test: disposal is awaited by signal, and the clock is moved by hand.
    private static readonly TimeSpan Hung = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(2);
    private readonly TrackingTimeProvider _time = new();
    private readonly TestSourceFactory _factory = new();

    private ClientLbTestHost Host(string idleServiceTimeout = "00:02:00") =>
        new(new Dictionary<string, string?> { ["ClientLb:IdleServiceTimeout"] = idleServiceTimeout }, services =>
        {
            services.AddSingleton<IEndpointSourceFactory>(_factory);
            services.AddSingleton<TimeProvider>(_time);
        });

    private static void AssertLive(ServiceRegistry registry, ServiceBalancer balancer, TestSource source)
    {
        Assert.Contains(balancer, registry.Balancers);
        Assert.False(balancer.Stopped.IsCancellationRequested);
        Assert.False(source.Disposed.IsCompleted);
    }

    private static void AssertReleased(ServiceRegistry registry, ServiceBalancer balancer)
    {
        Assert.DoesNotContain(balancer, registry.Balancers);
        Assert.True(balancer.Stopped.IsCancellationRequested);
    }

    [Fact]
    public async Task After_the_last_lease_and_the_idle_timeout_the_balancer_and_its_source_are_disposed()
    {
        await using ClientLbTestHost host = Host();
        ServiceRegistry registry = host.Registry;
        TestSource source = _factory.Add("orders");
        ServiceBalancerLease first = registry.AcquireBalancer("orders");
        ServiceBalancerLease second = registry.AcquireBalancer("orders");
        ServiceBalancer balancer = first.Balancer;
        Assert.Same(balancer, second.Balancer);
        Assert.Same(source, balancer.Source);

        // One lease left (a second Dispose of the same lease does not count again): nothing lingers.
        first.Dispose();
        first.Dispose();
        Assert.Equal(0, _time.ArmedTimers);
        _time.Advance(Idle * 3);
        AssertLive(registry, balancer, source);

        second.Dispose();
        Assert.Equal(1, _time.ArmedTimers);
        _time.Advance(Idle - TimeSpan.FromSeconds(1));
        AssertLive(registry, balancer, source);
        _time.Advance(TimeSpan.FromSeconds(1));
        AssertReleased(registry, balancer);
        await source.Disposed.WaitAsync(Hung);

        // A later client starts over: a new balancer over a new source.
        using ServiceBalancerLease again = registry.AcquireBalancer("orders");
        Assert.NotSame(balancer, again.Balancer);
        Assert.NotSame(source, again.Balancer.Source);
        Assert.Equal(2, _factory.Created);
    }

    [Fact]
    public async Task Acquiring_again_within_the_idle_timeout_keeps_the_same_balancer_and_cancels_its_disposal()
    {
        await using ClientLbTestHost host = Host();
        ServiceRegistry registry = host.Registry;
        TestSource source = _factory.Add("orders");
        source.Set(new ClientLb.Endpoints.Endpoint(System.Net.IPAddress.Parse("10.0.0.1"), 80));
        ServiceBalancerLease first = registry.AcquireBalancer("orders");
        ServiceBalancer balancer = first.Balancer;
        BalancedEndpoint endpoint = balancer.KnownEndpoints.Single();
        first.Dispose();

        _time.Advance(Idle - TimeSpan.FromSeconds(1));
        ServiceBalancerLease second = registry.AcquireBalancer("orders");
        Assert.Same(balancer, second.Balancer);
        Assert.Same(endpoint, balancer.KnownEndpoints.Single());
        Assert.Equal(0, _time.ArmedTimers);
        _time.Advance(Idle * 3);
        AssertLive(registry, balancer, source);
        Assert.Equal(1, _factory.Created);

        // The idle timeout starts over from the last release.
        second.Dispose();
        _time.Advance(Idle - TimeSpan.FromSeconds(1));
        AssertLive(registry, balancer, source);
        _time.Advance(TimeSpan.FromSeconds(1));
        AssertReleased(registry, balancer);
        await source.Disposed.WaitAsync(Hung);
    }

    [Fact]
    public async Task Two_scheme_preferences_share_one_source_that_stops_only_after_both_are_released()
    {
        await using ClientLbTestHost host = Host();
        ServiceRegistry registry = host.Registry;
        TestSource source = _factory.Add("orders");
        ServiceBalancerLease plain = registry.AcquireBalancer("http://orders");
        ServiceBalancerLease preferring = registry.AcquireBalancer("https+http://orders");
        Assert.NotSame(plain.Balancer, preferring.Balancer);
        Assert.Same(source, plain.Balancer.Source);
        Assert.Same(source, preferring.Balancer.Source);
        Assert.Equal(1, _factory.Created);

        plain.Dispose();
        _time.Advance(Idle);
        AssertReleased(registry, plain.Balancer);
        AssertLive(registry, preferring.Balancer, source);

        preferring.Dispose();
        _time.Advance(Idle - TimeSpan.FromSeconds(1));
        AssertLive(registry, preferring.Balancer, source);
        _time.Advance(TimeSpan.FromSeconds(1));
        AssertReleased(registry, preferring.Balancer);
        await source.Disposed.WaitAsync(Hung);
        Assert.Empty(registry.Balancers);
    }

    [Fact]
    public async Task A_zero_idle_timeout_releases_with_the_last_lease()
    {
        await using ClientLbTestHost host = Host("00:00:00");
        ServiceRegistry registry = host.Registry;
        TestSource source = _factory.Add("orders");
        ServiceBalancerLease lease = registry.AcquireBalancer("orders");

        lease.Dispose();

        Assert.Equal(0, _time.ArmedTimers);
        AssertReleased(registry, lease.Balancer);
        await source.Disposed.WaitAsync(Hung);
    }

    [Fact]
    public async Task A_balancer_from_GetBalancer_is_pinned_until_the_registry_is_disposed()
    {
        ClientLbTestHost host = Host();
        ServiceRegistry registry = host.Registry;
        TestSource source = _factory.Add("orders");
        ServiceBalancerLease lease = registry.AcquireBalancer("orders");
        lease.Dispose();
        ServiceBalancer pinned = registry.GetBalancer("orders");
        Assert.Same(lease.Balancer, pinned);

        // The linger the lease started is over, and no later lease's release unpins it.
        registry.AcquireBalancer("orders").Dispose();
        _time.Advance(Idle * 3);
        AssertLive(registry, pinned, source);

        await host.DisposeAsync();
        Assert.True(pinned.Stopped.IsCancellationRequested);
        await source.Disposed.WaitAsync(Hung);
        Assert.Throws<ObjectDisposedException>(() => registry.AcquireBalancer("orders"));
    }

    [Fact]
    public async Task An_acquire_racing_the_idle_expiry_never_gets_a_disposed_balancer()
    {
        await using ClientLbTestHost host = Host();
        ServiceRegistry registry = host.Registry;
        _factory.Add("orders");
        for (int i = 0; i < 300; i++)
        {
            registry.AcquireBalancer("orders").Dispose();
            using var start = new Barrier(2);
            Task expire = Task.Run(() =>
            {
                start.SignalAndWait();
                _time.Advance(Idle);
            });
            Task<ServiceBalancerLease> acquire = Task.Run(() =>
            {
                start.SignalAndWait();
                return registry.AcquireBalancer("orders");
            });
            await Task.WhenAll(expire, acquire).WaitAsync(Hung);
            using ServiceBalancerLease won = await acquire;

            // Whichever came first, the leased balancer is live and stays so while it is leased.
            Assert.False(won.Balancer.Stopped.IsCancellationRequested);
            Assert.Contains(won.Balancer, registry.Balancers);
            _time.Advance(Idle * 2);
            Assert.False(won.Balancer.Stopped.IsCancellationRequested);
        }
    }

    [Theory]
    [InlineData("-00:00:01")]
    [InlineData("50.00:00:00")]
    public async Task An_idle_timeout_out_of_range_is_rejected_naming_the_option(string value)
    {
        await using ClientLbTestHost host = Host(value);
        OptionsValidationException error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptionsMonitor<ClientLbOptions>>().CurrentValue);
        Assert.Contains($"ClientLb:IdleServiceTimeout ({TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture)}): must be zero (release at once) to 49 days", error.Message);
    }

    [Fact]
    public void The_idle_timeout_defaults_to_five_minutes()
    {
        Assert.Equal(TimeSpan.FromMinutes(5), new ClientLbOptions().IdleServiceTimeout);
    }
}
