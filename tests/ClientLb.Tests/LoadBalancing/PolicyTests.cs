using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using static ClientLb.Tests.LoadBalancing.PickerTestKit;

namespace ClientLb.Tests.LoadBalancing;

public class RandomPolicyTests
{
    [Fact]
    public void Picks_are_uniform_and_skip_the_excluded_endpoint()
    {
        List<BalancedEndpoint> endpoints = Make(3);
        EndpointPicker picker = new RandomPolicy().CreatePicker(endpoints);
        Dictionary<BalancedEndpoint, int> counts = Count(picker, 30_000);
        // 3 sigma of a binomial(30000, 1/3) is about 245.
        Assert.All(endpoints, e => Assert.InRange(counts[e], 9_600, 10_400));
        Assert.DoesNotContain(endpoints[0], Count(picker, 1_000, exclude: endpoints[0]).Keys);
    }

    [Fact]
    public void Picking_allocates_nothing() => Assert.Equal(0, AllocatedPerPicks(new RandomPolicy().CreatePicker(Make(5))));
}

public class PowerOfTwoChoicesTests
{
    [Fact]
    public void The_endpoint_with_most_requests_in_flight_is_never_picked_over_an_idle_one()
    {
        List<BalancedEndpoint> endpoints = Make(3);
        for (int i = 0; i < 5; i++)
        {
            endpoints[0].OnRequestStart();
        }
        EndpointPicker picker = new PowerOfTwoChoicesPolicy().CreatePicker(endpoints);
        Dictionary<BalancedEndpoint, int> counts = Count(picker, 3_000);
        Assert.False(counts.ContainsKey(endpoints[0]));
        // The two idle ones share evenly (ties go to the first random choice).
        Assert.InRange(counts[endpoints[1]], 1_300, 1_700);
    }

    [Fact]
    public void Equal_load_spreads_evenly()
    {
        List<BalancedEndpoint> endpoints = Make(4);
        Dictionary<BalancedEndpoint, int> counts = Count(new PowerOfTwoChoicesPolicy().CreatePicker(endpoints), 40_000);
        Assert.All(endpoints, e => Assert.InRange(counts[e], 9_500, 10_500));
    }

    [Fact]
    public void Exclusion_and_a_single_endpoint()
    {
        List<BalancedEndpoint> endpoints = Make(2);
        EndpointPicker picker = new PowerOfTwoChoicesPolicy().CreatePicker(endpoints);
        Assert.Equal([endpoints[1]], Count(picker, 100, exclude: endpoints[0]).Keys);
        Assert.Same(endpoints[0], new PowerOfTwoChoicesPolicy().CreatePicker(endpoints[..1]).Pick(new PickContext(null, endpoints[0])));
    }

    [Fact]
    public void The_two_choices_differ_and_every_ordered_pair_is_equally_likely()
    {
        BalancedEndpoint[] endpoints = [.. Make(5)];
        var pairs = new Dictionary<(BalancedEndpoint, BalancedEndpoint), int>();
        for (int i = 0; i < 200_000; i++)
        {
            (BalancedEndpoint a, BalancedEndpoint b) = PowerOfTwoChoicesPolicy.TwoDistinct(endpoints);
            Assert.NotSame(a, b);
            pairs[(a, b)] = pairs.GetValueOrDefault((a, b)) + 1;
        }
        // 20 ordered pairs of 10,000 expected draws each; 4 sigma of a binomial(200000, 1/20) is about 390.
        Assert.Equal(20, pairs.Count);
        Assert.All(pairs.Values, n => Assert.InRange(n, 9_600, 10_400));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(long.MaxValue)]
    [InlineData(ulong.MaxValue)]
    [InlineData(0x0000_0000_FFFF_FFFFUL)]
    [InlineData(0x7FFF_FFFF_0000_0000UL)]
    public void Extreme_random_bits_still_give_two_different_endpoints_in_range(ulong bits)
    {
        for (int length = 2; length <= 9; length++)
        {
            BalancedEndpoint[] endpoints = [.. Make(length)];
            (BalancedEndpoint a, BalancedEndpoint b) = PowerOfTwoChoicesPolicy.TwoDistinct(endpoints, bits);
            Assert.NotSame(a, b);
        }
    }

    [Fact]
    public void Picking_allocates_nothing() => Assert.Equal(0, AllocatedPerPicks(new PowerOfTwoChoicesPolicy().CreatePicker(Make(5))));
}

public class PeakEwmaTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    private static (EndpointPicker Picker, List<BalancedEndpoint> Endpoints, FakeTimeProvider Time) Create(int count)
    {
        var time = new FakeTimeProvider();
        List<BalancedEndpoint> endpoints = Make(count);
        var context = new PolicyContext("svc.default", timeProvider: time);
        return (new PeakEwmaPolicy().CreatePicker(endpoints, context), endpoints, time);
    }

    private static void Observe(BalancedEndpoint endpoint, FakeTimeProvider time, TimeSpan latency) =>
        endpoint.RecordLatency(time.GetTimestamp(), latency.Ticks, TimeSpan.FromSeconds(10).Ticks);

    [Fact]
    public void A_latency_spike_takes_effect_at_once_and_decays_over_time()
    {
        (EndpointPicker picker, List<BalancedEndpoint> endpoints, FakeTimeProvider time) = Create(3);
        foreach (BalancedEndpoint e in endpoints)
        {
            Observe(e, time, 2 * Ms);
        }
        Observe(endpoints[0], time, 200 * Ms);
        // Peak: one slow answer is enough to stop picks at once.
        Assert.False(Count(picker, 3_000).ContainsKey(endpoints[0]));

        // Decayed to now at pick time: after six decay times without traffic, 200 ms has become 0.5 ms, cheaper than
        // the others' fresh 2 ms, so it wins every pair it is drawn into (two of three pairs).
        time.Advance(TimeSpan.FromSeconds(60));
        Observe(endpoints[1], time, 2 * Ms);
        Observe(endpoints[2], time, 2 * Ms);
        Assert.InRange(Count(picker, 3_000).GetValueOrDefault(endpoints[0]), 1_800, 2_200);
    }

    [Fact]
    public void Cost_counts_requests_in_flight()
    {
        (EndpointPicker picker, List<BalancedEndpoint> endpoints, FakeTimeProvider time) = Create(2);
        Observe(endpoints[0], time, 10 * Ms);
        Observe(endpoints[1], time, 15 * Ms);
        Assert.Equal([endpoints[0]], Count(picker, 100).Keys);
        // 10 ms x (1 + 1) = 20 > 15 ms x 1.
        endpoints[0].OnRequestStart();
        Assert.Equal([endpoints[1]], Count(picker, 100).Keys);
    }

    [Fact]
    public void Picking_allocates_nothing()
    {
        (EndpointPicker picker, List<BalancedEndpoint> endpoints, FakeTimeProvider time) = Create(5);
        Observe(endpoints[0], time, 5 * Ms);
        Assert.Equal(0, AllocatedPerPicks(picker));
    }
}

public class WeightedPolicyTests
{
    [Fact]
    public void Picks_follow_the_weights_exactly_and_interleave()
    {
        List<BalancedEndpoint> endpoints = Make(3, i => (i + 1) * 10);
        EndpointPicker picker = new WeightedPolicy().CreatePicker(endpoints);
        var sequence = Enumerable.Range(0, 600).Select(_ => picker.Pick(new PickContext(null))).ToList();
        Assert.Equal(100, sequence.Count(e => e == endpoints[0]));
        Assert.Equal(200, sequence.Count(e => e == endpoints[1]));
        Assert.Equal(300, sequence.Count(e => e == endpoints[2]));
        // Smooth: the heaviest endpoint never gets more than its weight ratio allows in a row.
        int longestRun = 0, run = 0;
        for (int i = 1; i < sequence.Count; i++)
        {
            run = sequence[i] == sequence[i - 1] ? run + 1 : 0;
            longestRun = Math.Max(longestRun, run + 1);
        }
        Assert.InRange(longestRun, 1, 2);
    }

    [Fact]
    public void Huge_weight_sums_use_the_alias_method_in_proportion()
    {
        // 65521 and 65519 are prime: nothing reduces, so the sum is past the schedule limit.
        List<BalancedEndpoint> endpoints = Make(3, i => i switch { 0 => 65521, 1 => 65519, _ => 13103 });
        EndpointPicker picker = new WeightedPolicy().CreatePicker(endpoints);
        Dictionary<BalancedEndpoint, int> counts = Count(picker, 144_143);
        Assert.InRange(counts[endpoints[0]], 64_500, 66_500);
        Assert.InRange(counts[endpoints[2]], 12_600, 13_600);
        Assert.Equal(0, AllocatedPerPicks(picker));
    }

    [Fact]
    public void The_excluded_endpoint_is_skipped()
    {
        List<BalancedEndpoint> endpoints = Make(2, i => i == 0 ? 9 : 1);
        Assert.Equal([endpoints[1]], Count(new WeightedPolicy().CreatePicker(endpoints), 50, exclude: endpoints[0]).Keys);
    }

    [Fact]
    public void Picking_allocates_nothing() => Assert.Equal(0, AllocatedPerPicks(new WeightedPolicy().CreatePicker(Make(4, i => i + 1))));
}

public class AutoPolicyTests
{
    [Fact]
    public void Http1_requests_go_round_robin_and_http2_requests_by_least_outstanding()
    {
        List<BalancedEndpoint> endpoints = Make(3);
        endpoints[0].OnRequestStart();
        endpoints[0].OnRequestStart();
        EndpointPicker picker = new AutoPolicy().CreatePicker(endpoints);
        using var http1 = new HttpRequestMessage(HttpMethod.Get, "http://svc/") { Version = new Version(1, 1) };
        using var http2 = new HttpRequestMessage(HttpMethod.Get, "http://svc/") { Version = new Version(2, 0) };
        Assert.All(Count(picker, 300, http1).Values, c => Assert.Equal(100, c));
        Assert.False(Count(picker, 300, http2).ContainsKey(endpoints[0]));
        Assert.Equal(0, AllocatedPerPicks(picker, http2));
    }
}

public class PickRandomTests
{
    [Fact]
    public void Each_thread_draws_its_own_sequence()
    {
        ulong[][] drawn = new ulong[2][];
        Thread[] threads = [.. Enumerable.Range(0, 2).Select(t => new Thread(() => drawn[t] = [.. Enumerable.Range(0, 4).Select(_ => PickRandom.Next())]))];
        foreach (Thread thread in threads)
        {
            thread.Start();
        }
        foreach (Thread thread in threads)
        {
            thread.Join();
        }
        // Seeded from Random.Shared per thread: two threads repeating one sequence would send their picks in lockstep.
        Assert.NotEqual(drawn[0], drawn[1]);
        Assert.Equal(4, drawn[0].Distinct().Count());
    }

    [Fact]
    public void Every_bit_is_set_about_half_the_time()
    {
        int[] set = new int[64];
        const int Draws = 100_000;
        for (int i = 0; i < Draws; i++)
        {
            ulong bits = PickRandom.Next();
            for (int b = 0; b < 64; b++)
            {
                set[b] += (int)((bits >> b) & 1);
            }
        }
        // 50,000 expected per bit; 5 sigma of a binomial(100000, 1/2) is about 790.
        Assert.All(set, n => Assert.InRange(n, 49_200, 50_800));
    }
}
