using System.Net;
using BenchmarkDotNet.Attributes;
using ClientLb.Endpoints;
using ClientLb.LoadBalancing;

namespace ClientLb.Benchmarks;

/// <summary>
/// The cost of one pick. The baseline is the floor any round-robin pays: an interlocked increment and an
/// array read, with nothing else around it.
/// </summary>
[MemoryDiagnoser]
public class PickBenchmarks
{
    private EndpointPicker _roundRobin = null!;
    private BalancedEndpoint[] _array = null!;
    private int _next;

    [Params(3, 100)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _array = [.. Enumerable.Range(0, Endpoints).Select(i => new BalancedEndpoint(new Endpoint(new IPAddress([127, 1, (byte)(i / 250), (byte)(i % 250 + 1)]), 8080), "svc.default"))];
        _roundRobin = new RoundRobinPolicy().CreatePicker(_array);
    }

    [Benchmark(Baseline = true)]
    public BalancedEndpoint InterlockedArrayIndex() => _array[(uint)Interlocked.Increment(ref _next) % (uint)_array.Length];

    [Benchmark]
    public BalancedEndpoint RoundRobinPick() => _roundRobin.Pick(new PickContext(null));
}
