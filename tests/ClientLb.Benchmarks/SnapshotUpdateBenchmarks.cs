using System.Net;
using BenchmarkDotNet.Attributes;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// The SDK side of one endpoint changing in a large service, two ways: a source that republishes the whole list (DNS,
/// configuration: the snapshot diff is O(N)) and a source that publishes the change (the Kubernetes source: O(changed)
/// plus array copies). Either way the balancer applies the snapshot's changes and swaps a new picker. The 100-endpoint
/// rows are the baseline for the 10,000-endpoint rows.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SnapshotUpdateBenchmarks
{
    private ServiceProvider _provider = null!;
    private ManualSource _source = null!;
    private ServiceBalancer _balancer = null!;
    private Endpoint[] _a = null!;
    private Endpoint[] _b = null!;
    private bool _flip;

    [Params(100, 10_000)]
    public int Endpoints { get; set; }

    /// <summary>With topology preference on (half the endpoints in the client's zone), the picker is rebuilt over the whole array.</summary>
    [Params(false, true)]
    public bool Topology { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _a = [.. Enumerable.Range(0, Endpoints).Select(i => new Endpoint(new IPAddress([127, 1, (byte)(i / 250), (byte)(i % 250 + 1)]), 8080, zone: i % 2 == 0 ? "zone-a" : "zone-b"))];
        _b = [.. _a];
        _b[Endpoints / 2] = _b[Endpoints / 2].WithConditions(new EndpointConditions(false, true, true));
        var factory = new ManualFactory();
        var services = new ServiceCollection();
        services.AddClientLb(o =>
        {
            o.DefaultPolicy = RoundRobinPolicy.PolicyName;
            if (Topology)
            {
                o.Locality.Zone = "zone-a";
                o.Services["big"] = new ServiceOptions { Topology = { Enabled = true } };
            }
        });
        services.AddSingleton<IEndpointSourceFactory>(factory);
        _provider = services.BuildServiceProvider();
        _balancer = _provider.GetRequiredService<ServiceRegistry>().GetBalancer("big.default");
        _source = factory.Source!;
        _source.Set(_a);
    }

    [Benchmark]
    public int OneEndpointChanged()
    {
        _flip = !_flip;
        _source.Set(_flip ? _b : _a);
        return _balancer.EligibleCount;
    }

    [Benchmark]
    public int OneEndpointChangedAsDelta()
    {
        _flip = !_flip;
        _source.Change(_flip ? _b[Endpoints / 2] : _a[Endpoints / 2]);
        return _balancer.EligibleCount;
    }

    [GlobalCleanup]
    public void Cleanup() => _provider.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private sealed class ManualSource(ServiceName service) : EndpointSource(service, "bench", "benchmark source")
    {
        public void Set(Endpoint[] endpoints) => Publish(endpoints);

        public void Change(Endpoint endpoint) => PublishChanges([endpoint], []);
    }

    private sealed class ManualFactory : IEndpointSourceFactory
    {
        public ManualSource? Source { get; private set; }

        public string Kind => "bench";

        public IEndpointSource? TryCreate(ServiceName service) => Source = new ManualSource(service);
    }
}
