using System.Net;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Tests.Infrastructure;

namespace ClientLb.Tests.Sources;

/// <summary>What a snapshot says changed since the previous version, for whole publishes and for deltas.</summary>
public class EndpointChangesTests
{
    private static readonly EndpointConditions NotReady = new(false, false, false);

    private static Endpoint E(int last, EndpointConditions? conditions = null) => new(IPAddress.Parse($"127.0.0.{last}"), 80, conditions);

    private static string[] Hosts(IEnumerable<Endpoint> endpoints) => [.. endpoints.Select(e => e.Authority).Order()];

    [Fact]
    public async Task A_whole_publish_reports_added_updated_and_removed_endpoints()
    {
        await using var source = new TestSource(ServiceName.Parse("payments"));
        source.Set(E(1), E(2), E(3));
        Assert.Null(source.Current!.Changes);

        source.Set(E(4), E(2, NotReady), E(1));
        EndpointChanges changes = source.Current!.Changes!;
        Assert.Equal(2, source.Current.Version);
        Assert.Equal(["127.0.0.4:80"], Hosts(changes.Added));
        Assert.Equal(["127.0.0.3:80"], Hosts(changes.Removed));
        EndpointUpdate update = Assert.Single(changes.Updated);
        Assert.True(update.Previous.Conditions.Ready);
        Assert.False(update.Current.Conditions.Ready);
    }

    [Fact]
    public async Task A_delta_adds_replaces_and_removes_by_authority()
    {
        await using var source = new TestSource(ServiceName.Parse("payments"));
        source.Change([E(1), E(2), E(3), E(4)]);
        Assert.Equal(1, source.Current!.Version);
        int notified = 0;
        using IDisposable _ = source.Subscribe(_ => notified++);

        source.Change([E(5), E(2, NotReady)], E(1), E(3));
        EndpointSnapshot snapshot = source.Current!;
        Assert.Equal(2, snapshot.Version);
        Assert.Equal(1, notified);
        Assert.Equal(["127.0.0.2:80", "127.0.0.4:80", "127.0.0.5:80"], Hosts(snapshot.Endpoints));
        Assert.False(snapshot.Endpoints.Single(e => e.Host == "127.0.0.2").Conditions.Ready);
        Assert.Equal(["127.0.0.5:80"], Hosts(snapshot.Changes!.Added));
        Assert.Equal(["127.0.0.2:80"], Hosts(snapshot.Changes.Updated.Select(u => u.Current)));
        Assert.Equal(["127.0.0.1:80", "127.0.0.3:80"], Hosts(snapshot.Changes.Removed));

        // Equal endpoints and unknown removals are no change: same version, no notification.
        source.Change([E(4), E(2, NotReady)], E(9));
        Assert.Same(snapshot, source.Current);
        Assert.Equal(1, notified);

        // Removing the last endpoint of the array and one in the middle keeps the rest intact.
        source.Change([], E(5), E(2));
        Assert.Equal(["127.0.0.4:80"], Hosts(source.Current!.Endpoints));
        source.Change([E(6), E(7)], E(4));
        Assert.Equal(["127.0.0.6:80", "127.0.0.7:80"], Hosts(source.Current!.Endpoints));
    }

    [Fact]
    public async Task A_contradictory_delta_is_refused_naming_the_endpoint_and_changes_nothing()
    {
        await using var source = new TestSource(ServiceName.Parse("payments"));
        source.Set(E(1), E(2));
        EndpointSnapshot before = source.Current!;

        ArgumentException twice = Assert.Throws<ArgumentException>(() => source.Change([E(3), E(3, NotReady)]));
        Assert.Contains("127.0.0.3:80", twice.Message);
        Assert.Contains("upserted twice", twice.Message);
        ArgumentException both = Assert.Throws<ArgumentException>(() => source.Change([E(2, NotReady)], E(2)));
        Assert.Contains("127.0.0.2:80", both.Message);
        Assert.Contains("both upserted and removed", both.Message);
        Assert.Same(before, source.Current);

        // The index is intact: a later delta still finds the endpoints.
        source.Change([], E(1));
        Assert.Equal(["127.0.0.2:80"], Hosts(source.Current!.Endpoints));
    }

    [Fact]
    public async Task Deltas_and_whole_publishes_interleave_and_always_match_a_model()
    {
        var random = new Random(1234);
        await using var source = new TestSource(ServiceName.Parse("payments"));
        var model = new Dictionary<string, Endpoint>();
        source.Set();
        for (int step = 0; step < 2000; step++)
        {
            long version = source.Current!.Version;
            var previous = source.Current.Endpoints.ToDictionary(e => e.Authority);
            if (random.Next(10) == 0)
            {
                Endpoint[] whole = [.. Enumerable.Range(0, random.Next(0, 30)).Select(_ => RandomEndpoint(random))];
                source.Set(whole);
                model = whole.GroupBy(e => e.Authority).ToDictionary(g => g.Key, g => g.First());
            }
            else
            {
                var upserted = new Dictionary<string, Endpoint>();
                for (int i = random.Next(0, 4); i > 0; i--)
                {
                    Endpoint e = RandomEndpoint(random);
                    upserted[e.Authority] = e;
                }
                Endpoint[] removed = [.. model.Keys.Where(a => !upserted.ContainsKey(a) && random.Next(8) == 0).Select(a => model[a])];
                source.Change([.. upserted.Values], removed);
                foreach (Endpoint e in removed)
                {
                    model.Remove(e.Authority);
                }
                foreach (Endpoint e in upserted.Values)
                {
                    model[e.Authority] = e;
                }
            }
            EndpointSnapshot now = source.Current!;
            Assert.Equal(model.Keys.Order(), Hosts(now.Endpoints));
            Assert.All(now.Endpoints, e => Assert.Equal(model[e.Authority], e));
            if (now.Version == version)
            {
                continue;
            }
            // Applying the reported change to the previous list gives the new one.
            Assert.Equal(version + 1, now.Version);
            foreach (Endpoint e in now.Changes!.Removed)
            {
                Assert.True(previous.Remove(e.Authority));
            }
            foreach (EndpointUpdate u in now.Changes.Updated)
            {
                Assert.Equal(previous[u.Current.Authority], u.Previous);
                previous[u.Current.Authority] = u.Current;
            }
            foreach (Endpoint e in now.Changes.Added)
            {
                Assert.True(previous.TryAdd(e.Authority, e));
            }
            Assert.Equal(model.Keys.Order(), previous.Keys.Order());
        }
    }

    internal static Endpoint RandomEndpoint(Random random) =>
        E(random.Next(1, 60), random.Next(4) switch
        {
            0 => new EndpointConditions(false, false, false),
            1 => new EndpointConditions(false, true, true),
            _ => EndpointConditions.ReadyAndServing,
        });
}
