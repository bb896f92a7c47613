using System.Net;
using BenchmarkDotNet.Attributes;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Endpoints;

namespace ClientLb.Benchmarks;

/// <summary>
/// The cost of one pick per policy. The baseline is the floor any round-robin pays: an interlocked increment and an
/// array read, with nothing else around it. Targets: round-robin &lt;= 10 ns, P2C &lt;= 25 ns, hash &lt;= 30 ns, 0 B.
/// </summary>
[MemoryDiagnoser]
public class PickBenchmarks
{
    private EndpointPicker _roundRobin = null!;
    private EndpointPicker _random = null!;
    private EndpointPicker _p2c = null!;
    private EndpointPicker _peakEwma = null!;
    private EndpointPicker _weighted = null!;
    private EndpointPicker _hash = null!;
    private EndpointPicker _sticky = null!;
    private HttpRequestMessage _keyed = null!;
    private BalancedEndpoint[] _array = null!;
    private int _next;

    [Params(3, 100)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _array = [.. Enumerable.Range(0, Endpoints).Select(i => new BalancedEndpoint(
            new Endpoint(new IPAddress([127, 1, (byte)(i / 250), (byte)(i % 250 + 1)]), 8080, weight: i % 4 + 1), "svc.default"))];
        var affinity = new ServiceOptions { Affinity = new AffinityOptions { Key = AffinityKeySource.Header, Name = "x-user" } };
        var context = new PolicyContext("svc.default", affinity);
        _roundRobin = new RoundRobinPolicy().CreatePicker(_array);
        _random = new RandomPolicy().CreatePicker(_array);
        _p2c = new PowerOfTwoChoicesPolicy().CreatePicker(_array);
        _peakEwma = new PeakEwmaPolicy().CreatePicker(_array, context);
        _weighted = new WeightedPolicy().CreatePicker(_array);
        _hash = new HashPolicy().CreatePicker(_array, context);
        _sticky = new StickyPolicy().CreatePicker(_array, context);
        _keyed = new HttpRequestMessage(HttpMethod.Get, "http://svc/");
        _keyed.Headers.TryAddWithoutValidation("x-user", "user-12345");
        _sticky.Pick(new PickContext(_keyed));
    }

    [Benchmark(Baseline = true)]
    public BalancedEndpoint InterlockedArrayIndex() => _array[(uint)Interlocked.Increment(ref _next) % (uint)_array.Length];

    [Benchmark]
    public BalancedEndpoint RoundRobinPick() => _roundRobin.Pick(new PickContext(null));

    [Benchmark]
    public BalancedEndpoint RandomPick() => _random.Pick(new PickContext(null));

    [Benchmark]
    public BalancedEndpoint PowerOfTwoChoicesPick() => _p2c.Pick(new PickContext(null));

    [Benchmark]
    public BalancedEndpoint PeakEwmaPick() => _peakEwma.Pick(new PickContext(null));

    [Benchmark]
    public BalancedEndpoint WeightedPick() => _weighted.Pick(new PickContext(null));

    /// <summary>Maglev lookup including reading and hashing the <c>x-user</c> header.</summary>
    [Benchmark]
    public BalancedEndpoint MaglevHashPick() => _hash.Pick(new PickContext(_keyed));

    /// <summary>An existing sticky session: header hash, dictionary lookup, timestamp.</summary>
    [Benchmark]
    public BalancedEndpoint StickyPick() => _sticky.Pick(new PickContext(_keyed));
}

/// <summary>Building a Maglev table (a picker rebuild of the Hash policy) for a large service.</summary>
[MemoryDiagnoser]
public class MaglevBuildBenchmarks
{
    private BalancedEndpoint[] _endpoints = null!;

    [Params(100, 1000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup() => _endpoints = [.. Enumerable.Range(0, Endpoints).Select(i => new BalancedEndpoint(
        new Endpoint(new IPAddress([10, (byte)(i / 65536), (byte)(i / 256 % 256), (byte)(i % 256)]), 8080), "svc.default"))];

    [Benchmark]
    public EndpointPicker BuildHashPicker() => new HashPolicy().CreatePicker(_endpoints, new PolicyContext("svc.default"));
}
