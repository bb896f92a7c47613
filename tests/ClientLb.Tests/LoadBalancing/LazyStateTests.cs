using System.Net;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Endpoints;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.LoadBalancing;

/// <summary>
/// A balancer keeps per-service state only once something uses it (issues 14 and 18: thousands of watched services):
/// what is made on first use behaves as if it had always been there.
/// </summary>
public sealed class LazyStateTests
{
    private readonly FakeTimeProvider _time = new();

    private (ClientLbTestHost Host, TestSource Source) Create(string service)
    {
        var factory = new TestSourceFactory();
        TestSource source = factory.Add(service);
        var host = new ClientLbTestHost(new Dictionary<string, string?>(), services =>
        {
            services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory);
            services.AddSingleton<TimeProvider>(_time);
        });
        return (host, source);
    }

    private static Endpoint At(int last) => new(IPAddress.Parse($"10.0.0.{last}"), 80);

    [Fact]
    public async Task PickerChanged_first_read_after_earlier_swaps_completes_on_the_next_swap_only()
    {
        (ClientLbTestHost host, TestSource source) = Create("lazy");
        await using ClientLbTestHost _ = host;
        source.Set(At(1));
        ServiceBalancer balancer = host.Registry.GetBalancer("lazy");
        source.Set(At(1), At(2)); // swaps nobody waited for

        Task changed = balancer.PickerChanged;
        Assert.False(changed.IsCompleted);
        Assert.Same(changed, balancer.PickerChanged); // every reader before the swap waits on the same change

        source.Set(At(1), At(2), At(3));
        await changed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, balancer.EligibleCount);

        // Read again after that swap: a new change, completed by the next one.
        Task next = balancer.PickerChanged;
        Assert.False(next.IsCompleted);
        source.Set(At(1));
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, balancer.EligibleCount);
    }

    [Fact]
    public async Task EnsureReadyAsync_waits_for_the_first_picker_and_is_done_at_once_afterwards()
    {
        (ClientLbTestHost host, TestSource source) = Create("ready");
        await using ClientLbTestHost _ = host;
        ServiceBalancer balancer = host.Registry.GetBalancer("ready");

        ValueTask waiting = balancer.EnsureReadyAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        source.Set(At(1));
        await waiting;
        Assert.Equal(1, balancer.EligibleCount);
        Assert.True(balancer.EnsureReadyAsync(TimeSpan.FromSeconds(10), CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Stopped_is_cancelled_by_dispose_whether_first_read_before_or_after_it()
    {
        (ClientLbTestHost host, TestSource source) = Create("stop");
        await using ClientLbTestHost _ = host;
        source.Set(At(1));
        ServiceBalancer balancer = host.Registry.GetBalancer("stop");
        CancellationToken before = balancer.Stopped;
        Assert.False(before.IsCancellationRequested);
        await balancer.DisposeAsync();
        Assert.True(before.IsCancellationRequested);

        (ClientLbTestHost other, TestSource otherSource) = Create("late");
        await using ClientLbTestHost __ = other;
        otherSource.Set(At(1));
        ServiceBalancer late = other.Registry.GetBalancer("late");
        await late.DisposeAsync();
        Assert.True(late.Stopped.IsCancellationRequested); // first read after dispose
    }

    [Fact]
    public void A_retry_budget_without_deposits_counts_nothing_and_allows_only_the_minimum()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Ratio = 0.2, MinRetriesPerSecond = 1, Window = TimeSpan.FromSeconds(10) }, _time);
        Assert.Equal((0, 0), budget.Window());

        int allowed = 0;
        while (budget.TryWithdraw())
        {
            allowed++;
        }
        Assert.Equal(10, allowed); // MinRetriesPerSecond x Window, with no request to add a share of
        Assert.Equal((0, 10), budget.Window());

        // Requests deposited afterwards raise the budget as they would have from the start.
        for (int i = 0; i < 100; i++)
        {
            budget.Deposit(_time.GetTimestamp());
        }
        Assert.Equal((100, 10), budget.Window());
        allowed = 0;
        while (budget.TryWithdraw())
        {
            allowed++;
        }
        Assert.Equal(20, allowed);
    }

    [Fact]
    public void An_endpoint_never_called_holds_no_transport_latency_nor_health_state_and_its_first_answer_sets_the_estimate()
    {
        var time = new FakeTimeProvider();
        Endpoint address = At(1);
        _ = new BalancedEndpoint(address, "svc"); // type loaded, constructor compiled
        long before = GC.GetAllocatedBytesForCurrentThread();
        var endpoint = new BalancedEndpoint(address, "svc");
        Assert.Equal(56, GC.GetAllocatedBytesForCurrentThread() - before); // 80 with the estimate's two fields and the transport inline
        Assert.Null(endpoint.Latency(time));
        Assert.False(endpoint.HasLatency);
        Assert.Equal(-1, endpoint.RawLatency(out long stamp));
        Assert.Equal(0, stamp);
        Assert.Equal(7.0, endpoint.LatencyEstimate(time.GetTimestamp(), 100, defaultTicks: 7.0));

        // A seeded guess, replaced outright by the first real answer even when that is higher... then decays in.
        endpoint.SeedLatency(time.GetTimestamp(), 500);
        Assert.Equal(500, endpoint.RawLatency(out _));
        endpoint.SeedLatency(time.GetTimestamp(), 900); // a second seed changes nothing
        Assert.Equal(500, endpoint.RawLatency(out _));
        endpoint.RecordLatency(time.GetTimestamp(), 200, decayTicks: 1000);
        Assert.Equal(200, endpoint.RawLatency(out _));
        Assert.False(endpoint.IsEjected);
        Assert.Equal(0, endpoint.WarmEnd);

        // State made by a failure first keeps the estimate empty until an answer.
        var failing = new BalancedEndpoint(At(2), "svc");
        Assert.Equal(1, failing.CountConnectionFailure());
        Assert.Null(failing.Latency(time));
        failing.RecordLatency(time.GetTimestamp(), TimeSpan.FromMilliseconds(3).Ticks * time.TimestampFrequency / TimeSpan.TicksPerSecond, decayTicks: 1000);
        Assert.Equal(TimeSpan.FromMilliseconds(3), failing.Latency(time));
        failing.CountSuccess();
        Assert.Equal(1, failing.CountConnectionFailure()); // the success ended the run

        // The transport is made once, kept with that state, and closed when the retired endpoint is idle.
        var transport = new Transport();
        Assert.Same(transport, failing.GetOrCreateTransport(_ => transport));
        Assert.Same(transport, failing.GetOrCreateTransport<Transport>(_ => throw new InvalidOperationException("made twice")));
        failing.OnRequestStart();
        failing.Retire();
        Assert.False(transport.Disposed);
        failing.OnRequestEnd();
        Assert.True(transport.Disposed);
        endpoint.Retire(); // never called: nothing to close
    }

    private sealed class Transport : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    [Fact]
    public void Policy_state_is_made_once_on_first_use()
    {
        var context = new PolicyContext("svc", timeProvider: _time);
        int made = 0;
        object first = context.GetOrAddState(() => { made++; return new object(); });
        Assert.Same(first, context.GetOrAddState(() => { made++; return new object(); }));
        Assert.Equal(1, made);
    }
}
