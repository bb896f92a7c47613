using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Http;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using static ClientLb.Tests.LoadBalancing.PickerTestKit;

namespace ClientLb.Tests.LoadBalancing;

public class MaglevTests
{
    private static string[] Names(int count) => [.. Enumerable.Range(0, count).Select(i => $"10.0.{i / 250}.{i % 250 + 1}:8080")];

    private static ulong Key(int i) => AffinityKey.Hash("user-" + i);

    [Fact]
    public void The_table_is_a_prime_over_100_times_the_endpoints_and_shares_slots_evenly()
    {
        var table = new MaglevTable(Names(37));
        Assert.True(table.Size > 3700);
        Assert.True(Enumerable.Range(2, (int)Math.Sqrt(table.Size)).All(d => table.Size % d != 0));
        Assert.Equal(table.Size, new MaglevTable(Names(38)).Size);
        int[] owned = new int[37];
        for (int slot = 0; slot < table.Size; slot++)
        {
            owned[table.SlotOwner(slot)]++;
        }
        // Maglev gives every endpoint M/N slots, within one.
        Assert.InRange(owned.Max() - owned.Min(), 0, 1);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(14)]
    public void Adding_one_endpoint_moves_about_one_key_in_n(int count)
    {
        var before = new MaglevTable(Names(count));
        var after = new MaglevTable(Names(count + 1));
        const int keys = 20_000;
        int moved = 0, movedElsewhere = 0;
        for (int i = 0; i < keys; i++)
        {
            int was = before.Lookup(Key(i)), now = after.Lookup(Key(i));
            if (was != now)
            {
                moved++;
                movedElsewhere += now == count ? 0 : 1;
            }
        }
        double ideal = 1.0 / (count + 1);
        Assert.InRange((double)moved / keys, ideal * 0.8, ideal * 1.5);
        // Nearly every moved key moved to the new endpoint, not between old ones.
        Assert.InRange((double)movedElsewhere / keys, 0, 0.04);
    }

    [Fact]
    public void Every_client_builds_the_same_table_from_the_same_endpoints_in_any_order()
    {
        string[] names = Names(9);
        string[] shuffled = [.. names.OrderBy(n => AffinityKey.Hash("shuffle" + n))];
        var table = new MaglevTable(names);
        var other = new MaglevTable(shuffled);
        for (int i = 0; i < 20_000; i++)
        {
            Assert.Equal(names[table.Lookup(Key(i))], shuffled[other.Lookup(Key(i))]);
        }
    }

    [Fact]
    public void Adding_an_endpoint_anywhere_in_the_order_moves_about_one_key_in_n()
    {
        string[] names = Names(4);
        var before = new MaglevTable(names);
        // "10.0.0.0:1" sorts before every other name, and is given last: its turn comes first either way.
        string[] grown = [.. names, "10.0.0.0:1"];
        var after = new MaglevTable(grown);
        int moved = 0, movedElsewhere = 0;
        for (int i = 0; i < 20_000; i++)
        {
            string was = names[before.Lookup(Key(i))], now = grown[after.Lookup(Key(i))];
            moved += was != now ? 1 : 0;
            movedElsewhere += was != now && now != "10.0.0.0:1" ? 1 : 0;
        }
        Assert.InRange(moved / 20_000.0, 0.2 * 0.8, 0.2 * 1.5);
        Assert.InRange(movedElsewhere / 20_000.0, 0, 0.04);
    }

    [Fact]
    public void Removing_one_endpoint_moves_only_its_keys_and_a_few_others()
    {
        string[] names = Names(10);
        var before = new MaglevTable(names);
        var after = new MaglevTable([.. names.Where((_, i) => i != 3)]);
        int[] remap = [0, 1, 2, -1, 3, 4, 5, 6, 7, 8];
        int kept = 0, keysOnOthers = 0;
        for (int i = 0; i < 20_000; i++)
        {
            int was = before.Lookup(Key(i));
            if (was == 3)
            {
                continue;
            }
            keysOnOthers++;
            kept += after.Lookup(Key(i)) == remap[was] ? 1 : 0;
        }
        Assert.InRange((double)kept / keysOnOthers, 0.94, 1.0);
    }
}

public class HashPolicyTests
{
    private static PolicyContext Context(AffinityKeySource key, string? name = null) =>
        new("svc.default", new ServiceOptions { Affinity = new AffinityOptions { Key = key, Name = name } });

    [Fact]
    public void A_header_key_always_reaches_the_same_endpoint_and_keys_spread()
    {
        List<BalancedEndpoint> endpoints = Make(4);
        EndpointPicker picker = new HashPolicy().CreatePicker(endpoints, Context(AffinityKeySource.Header, "x-user"));
        var owners = new HashSet<BalancedEndpoint>();
        for (int user = 0; user < 200; user++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
            request.Headers.TryAddWithoutValidation("x-user", "user-" + user);
            Dictionary<BalancedEndpoint, int> counts = Count(picker, 20, request);
            Assert.Single(counts);
            owners.Add(counts.Keys.Single());
        }
        Assert.Equal(4, owners.Count);
    }

    [Fact]
    public void Cookie_and_caller_keys_and_the_retry_fallback()
    {
        List<BalancedEndpoint> endpoints = Make(5);
        EndpointPicker byCookie = new HashPolicy().CreatePicker(endpoints, Context(AffinityKeySource.Cookie, "session"));
        EndpointPicker byCaller = new HashPolicy().CreatePicker(endpoints, Context(AffinityKeySource.Caller));
        using var a = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
        a.Headers.TryAddWithoutValidation("Cookie", "theme=dark; session=abc123");
        using var b = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
        b.Headers.TryAddWithoutValidation("Cookie", "session=\"abc123\"");
        Assert.Same(byCookie.Pick(new PickContext(a)), byCookie.Pick(new PickContext(b)));

        using var c = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
        c.Options.Set(ClientLbRequestOptions.AffinityKey, "tenant-7");
        BalancedEndpoint owner = byCaller.Pick(new PickContext(c));
        Assert.Single(Count(byCaller, 50, c));
        // A retry away from the owner lands on one other endpoint, the same each time.
        Dictionary<BalancedEndpoint, int> retries = Count(byCaller, 50, c, owner);
        Assert.Single(retries);
        Assert.NotSame(owner, retries.Keys.Single());
    }

    [Fact]
    public void The_table_never_shrinks_for_a_service_so_removing_endpoints_keeps_other_keys()
    {
        List<BalancedEndpoint> endpoints = Make(11);
        PolicyContext context = Context(AffinityKeySource.Header, "x-user");
        EndpointPicker big = new HashPolicy().CreatePicker(endpoints, context);
        EndpointPicker small = new HashPolicy().CreatePicker(endpoints[..10], context);
        int kept = 0, total = 0;
        for (int user = 0; user < 2_000; user++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
            request.Headers.TryAddWithoutValidation("x-user", "user-" + user);
            BalancedEndpoint before = big.Pick(new PickContext(request));
            if (before != endpoints[10])
            {
                total++;
                kept += small.Pick(new PickContext(request)) == before ? 1 : 0;
            }
        }
        // 11 -> 10 endpoints crosses a table-size step (1031 -> 2053 on the way up); without the sticky size almost all keys would move.
        Assert.InRange((double)kept / total, 0.9, 1.0);
    }

    [Fact]
    public void Requests_without_a_key_spread_randomly()
    {
        List<BalancedEndpoint> endpoints = Make(3);
        EndpointPicker picker = new HashPolicy().CreatePicker(endpoints, Context(AffinityKeySource.Header, "x-user"));
        Assert.All(Count(picker, 3_000).Values, c => Assert.InRange(c, 800, 1_200));
    }

    [Fact]
    public void Picking_by_header_allocates_nothing()
    {
        EndpointPicker picker = new HashPolicy().CreatePicker(Make(10), Context(AffinityKeySource.Header, "x-user"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
        request.Headers.TryAddWithoutValidation("x-user", "alice");
        Assert.Equal(0, AllocatedPerPicks(picker, request));
    }

    [Theory]
    [InlineData("a=1; session=xyz; b=2", "xyz")]
    [InlineData("session=xyz", "xyz")]
    [InlineData("sessionid=1; session = \"q\"", "q")]
    [InlineData("a=1", null)]
    public void Cookie_values_are_found(string header, string? expected)
    {
        bool found = AffinityKey.TryFindCookie(header, "session", out ReadOnlySpan<char> value);
        Assert.Equal(expected is not null, found);
        Assert.Equal(expected ?? "", value.ToString());
    }
}

public class StickyPolicyTests
{
    private static (EndpointPicker Picker, List<BalancedEndpoint> Endpoints, FakeTimeProvider Time, PolicyContext Context) Create(int count)
    {
        var time = new FakeTimeProvider();
        var context = new PolicyContext("svc.default", new ServiceOptions { Affinity = new AffinityOptions { Key = AffinityKeySource.Header, Name = "x-user" } }, timeProvider: time);
        List<BalancedEndpoint> endpoints = Make(count);
        return (new StickyPolicy().CreatePicker(endpoints, context), endpoints, time, context);
    }

    private static HttpRequestMessage Request(string user)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
        request.Headers.TryAddWithoutValidation("x-user", user);
        return request;
    }

    [Fact]
    public void A_session_lasts_while_used_and_ends_after_the_idle_timeout()
    {
        (EndpointPicker picker, _, FakeTimeProvider time, _) = Create(3);
        using HttpRequestMessage alice = Request("alice");
        BalancedEndpoint first = picker.Pick(new PickContext(alice));
        // Each use restarts the 10800 s idle timer.
        for (int i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(10_000));
            Assert.Same(first, picker.Pick(new PickContext(alice)));
        }
        time.Advance(TimeSpan.FromSeconds(10_801));
        BalancedEndpoint second = picker.Pick(new PickContext(alice));
        // New sessions are assigned in turn, so the expired one moves on.
        Assert.NotSame(first, second);
        Assert.Same(second, picker.Pick(new PickContext(alice)));
    }

    [Fact]
    public void Sessions_survive_rebuilds_and_move_when_their_endpoint_leaves()
    {
        (EndpointPicker picker, List<BalancedEndpoint> endpoints, _, PolicyContext context) = Create(3);
        using HttpRequestMessage bob = Request("bob");
        BalancedEndpoint owner = picker.Pick(new PickContext(bob));
        EndpointPicker rebuilt = new StickyPolicy().CreatePicker(endpoints, context);
        Assert.Same(owner, rebuilt.Pick(new PickContext(bob)));
        EndpointPicker without = new StickyPolicy().CreatePicker([.. endpoints.Where(e => e != owner)], context);
        BalancedEndpoint moved = without.Pick(new PickContext(bob));
        Assert.NotSame(owner, moved);
        Assert.Same(moved, without.Pick(new PickContext(bob)));
    }

    [Fact]
    public void New_sessions_spread_and_a_known_session_allocates_nothing()
    {
        (EndpointPicker picker, List<BalancedEndpoint> endpoints, _, _) = Create(3);
        var counts = new Dictionary<BalancedEndpoint, int>();
        for (int i = 0; i < 300; i++)
        {
            using HttpRequestMessage r = Request("u" + i);
            BalancedEndpoint e = picker.Pick(new PickContext(r));
            counts[e] = counts.GetValueOrDefault(e) + 1;
        }
        Assert.All(endpoints, e => Assert.Equal(100, counts[e]));
        using HttpRequestMessage known = Request("u1");
        Assert.Equal(0, AllocatedPerPicks(picker, known));
    }
}
