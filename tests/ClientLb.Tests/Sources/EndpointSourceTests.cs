using System.Net;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Sources;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.Sources;

public class EndpointSourceTests
{
    private static Endpoint E(int last) => new(IPAddress.Parse($"127.0.0.{last}"), 80);

    [Fact]
    public async Task Publishing_a_change_bumps_the_version_and_notifies()
    {
        await using var source = new TestSource(ServiceName.Parse("payments"));
        int notified = 0;
        using IDisposable _ = source.Subscribe(_ => notified++);
        source.Set(E(1), E(2));
        source.Set(E(1), E(2));
        Assert.Equal(1, source.Current!.Version);
        Assert.Equal(1, notified);
        source.Set(E(2), E(1));
        Assert.Equal(1, source.Current!.Version);
        source.Set(E(1));
        Assert.Equal(2, source.Current!.Version);
        Assert.Equal(2, notified);
    }

    [Fact]
    public async Task Duplicates_are_merged()
    {
        await using var source = new TestSource(ServiceName.Parse("payments"));
        source.Set(E(1), E(1), E(2));
        Assert.Equal(2, source.Current!.Endpoints.Length);
    }

    [Fact]
    public async Task A_long_list_of_unknown_length_is_merged_and_its_index_serves_the_changes_after_it()
    {
        await using var source = new TestSource(ServiceName.Parse("payments"));
        static Endpoint Pod(int n) => new(new IPAddress([10, 0, (byte)(n / 250), (byte)(n % 250 + 1)]), 80);
        // 300 endpoints, each address twice, through an enumerable whose count is not known in advance (the index grows).
        source.Set(Enumerable.Range(0, 300).Where(static _ => true).Select(static i => Pod(i % 150)));
        Assert.Equal(Enumerable.Range(0, 150).Select(Pod), source.Current!.Endpoints);

        var terminating = new EndpointConditions(false, true, true);
        source.Change([Pod(3).WithConditions(terminating), Pod(200)], Pod(7), Pod(149));
        EndpointSnapshot changed = source.Current!;
        Assert.Equal(2, changed.Version);
        Assert.Equal(149, changed.Endpoints.Length);
        Assert.DoesNotContain(changed.Endpoints, e => e.SameAddress(Pod(7)) || e.SameAddress(Pod(149)));
        Assert.Equal(terminating, changed.Endpoints.Single(e => e.SameAddress(Pod(3))).Conditions);
        Assert.Single(changed.Endpoints, e => e.SameAddress(Pod(200)));

        // The same endpoints again, in another order and through an enumerable: no change.
        source.Set(changed.Endpoints.Reverse().Where(static _ => true));
        Assert.Same(changed, source.Current);
    }

    [Fact]
    public async Task A_failure_keeps_the_last_good_snapshot_and_reports_staleness()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        await using var source = new TestSource(ServiceName.Parse("payments"), time);
        source.Set(E(1), E(2));
        time.Advance(TimeSpan.FromSeconds(30));
        source.Fail(new IOException("api unreachable"));
        time.Advance(TimeSpan.FromSeconds(15));
        source.Fail(new IOException("api still unreachable"));

        Assert.Equal(2, source.Current!.Endpoints.Length);
        Assert.False(source.Status.IsHealthy);
        Assert.Equal(2, source.Status.ConsecutiveFailures);
        Assert.Equal("api still unreachable", source.Status.LastError!.Message);
        Assert.Equal(TimeSpan.FromSeconds(45), source.Status.Staleness(time.GetUtcNow()));

        source.Set(E(1), E(2));
        Assert.True(source.Status.IsHealthy);
        Assert.Equal(TimeSpan.Zero, source.Status.Staleness(time.GetUtcNow()));
    }

    [Fact]
    public async Task A_first_failure_without_snapshot_fails_the_waiter_with_the_reason()
    {
        await using var source = new TestSource(ServiceName.Parse("payments"));
        ValueTask<EndpointSnapshot> waiting = source.GetSnapshotAsync();
        source.Fail(new IOException("connection refused"));
        EndpointSourceException error = await Assert.ThrowsAsync<EndpointSourceException>(async () => await waiting);
        Assert.Contains("payments.default", error.Message);
        Assert.Contains("connection refused", error.Message);
    }
}
