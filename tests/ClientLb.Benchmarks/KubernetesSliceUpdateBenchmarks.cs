using System.Text.Json;
using System.Threading.Tasks.Sources;
using BenchmarkDotNet.Attributes;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// One EndpointSlice update in a large service, from the watch event reaching the client (decoded) to the balancer's new
/// picker: the watcher, the watch scope's slice cache, the shared view, the source's slice merge, the snapshot and the
/// balancer's rebuild. The watch stream below resumes the watcher on the benchmark's own thread, so one call is one whole
/// update. Slices hold 100 endpoints each, as the EndpointSlice controller writes them; the 100-endpoint service is the baseline.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class KubernetesSliceUpdateBenchmarks
{
    private const int PerSlice = 100;
    private ServiceProvider _provider = null!;
    private ServiceBalancer _balancer = null!;
    private InMemoryApi _api = null!;
    private WatchEvent<EndpointSlice> _flipped = null!;
    private WatchEvent<EndpointSlice> _restored = null!;
    private byte[] _eventJson = null!;
    private bool _flip;

    [Params(100, 10_000)]
    public int Endpoints { get; set; }

    /// <summary>
    /// With zone hints on every endpoint (<c>trafficDistribution: PreferClose</c>) and the client in zone-0, traffic stays
    /// on the third of the endpoints hinted for it, and the flipped endpoint is one of them.
    /// </summary>
    [Params(false, true)]
    public bool Hints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int slices = Endpoints / PerSlice;
        List<EndpointSlice> all = [.. Enumerable.Range(0, slices).Select(s => Slice(s, readyExcept: -1, version: 1))];
        _api = new InMemoryApi(all);
        var services = new ServiceCollection();
        services.AddSingleton<IKubernetesApi>(_api);
        services.AddClientLb(o =>
        {
            o.DefaultPolicy = RoundRobinPolicy.PolicyName;
            o.Locality.Zone = Hints ? "zone-0" : null;
        });
        services.AddClientLbKubernetes();
        _provider = services.BuildServiceProvider();
        _balancer = _provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://big.bench");
        _balancer.EnsureReadyAsync(TimeSpan.FromSeconds(30), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        int picked = Hints ? Endpoints / 3 + 1 : Endpoints; // zone-0 holds every third endpoint, from the first
        SpinWait.SpinUntil(() => _api.SlicesWatch is not null && _balancer.EligibleCount == picked, TimeSpan.FromSeconds(30));
        if (_balancer.EligibleCount != picked || _api.SlicesWatch is null)
        {
            throw new InvalidOperationException($"setup: {_balancer.EligibleCount} of {picked} endpoints picked from");
        }
        // In the middle slice, an endpoint of zone-0 flips readiness back and forth.
        int flipped = Enumerable.Range(PerSlice / 2, 3).First(i => ((slices / 2 * PerSlice) + i) % 3 == 0);
        _flipped = new WatchEvent<EndpointSlice> { Type = WatchEventTypes.Modified, Object = Slice(slices / 2, readyExcept: flipped, version: 2) };
        _restored = new WatchEvent<EndpointSlice> { Type = WatchEventTypes.Modified, Object = Slice(slices / 2, readyExcept: -1, version: 3) };
        _eventJson = JsonSerializer.SerializeToUtf8Bytes(_flipped, KubernetesJsonContext.Default.WatchEventEndpointSlice);
        if (OneSliceUpdate() != picked - 1 || OneSliceUpdate() != picked)
        {
            throw new InvalidOperationException("setup: an update did not reach the picker synchronously");
        }
    }

    [Benchmark]
    public int OneSliceUpdate()
    {
        _flip = !_flip;
        _api.SlicesWatch!.Push(_flip ? _flipped : _restored);
        return _balancer.EligibleCount;
    }

    /// <summary>For scale: decoding the event itself (one 100-endpoint slice) with the client's decoder, which does not depend on the service's size.</summary>
    [Benchmark]
    public object? DecodeOneSliceEvent() => JsonSerializer.Deserialize(_eventJson, KubernetesJsonContext.Default.WatchEventEndpointSlice)!.Object;

    [GlobalCleanup]
    public void Cleanup() => _provider.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private EndpointSlice Slice(int index, int readyExcept, int version) => new()
    {
        Metadata = new ObjectMeta
        {
            Name = $"big-{index:D4}",
            Namespace = "bench",
            ResourceVersion = $"{version}{index:D5}",
            Labels = new() { ["kubernetes.io/service-name"] = "big", ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io" },
        },
        AddressType = "IPv4",
        Ports = [new EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
        Endpoints = [.. Enumerable.Range(0, PerSlice).Select(i => new Endpoint
        {
            Address = $"10.{index / 250}.{index % 250}.{i + 1}",
            Conditions = new EndpointConditions { Ready = i != readyExcept, Serving = true, Terminating = false },
            NodeName = $"node-{i % 7}",
            Zone = $"zone-{(index * PerSlice + i) % 3}",
            Hints = Hints ? new EndpointHints { ForZones = [new ForZone { Name = $"zone-{(index * PerSlice + i) % 3}" }] } : null,
        })],
    };

    /// <summary>Lists the service and its slices; the slice watch is a stream the benchmark pushes events into.</summary>
    private sealed class InMemoryApi(List<EndpointSlice> slices) : IKubernetesApi
    {
        private readonly Service _service = new()
        {
            Metadata = new ObjectMeta { Name = "big", Namespace = "bench", ResourceVersion = "1" },
            Spec = new ServiceSpec { ClusterIP = "10.96.0.10", Ports = [new ServicePort { Name = "http", Port = 80, TargetPort = new IntOrString(8080) }] },
        };

        public InlineWatchStream<EndpointSlice>? SlicesWatch { get; private set; }

        public string Description => "in-memory benchmark API";

        public Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
            Task.FromResult(new KubernetesList<EndpointSlice> { Metadata = new ListMeta { ResourceVersion = "1" }, Items = slices });

        public Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
        {
            SlicesWatch = new InlineWatchStream<EndpointSlice>();
            return Task.FromResult<IWatchStream<EndpointSlice>>(SlicesWatch);
        }

        public Task<KubernetesList<Service>> ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
            Task.FromResult(new KubernetesList<Service> { Metadata = new ListMeta { ResourceVersion = "1" }, Items = [_service] });

        public Task<IWatchStream<Service>> WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
            Task.FromResult<IWatchStream<Service>>(new InlineWatchStream<Service>());

        public Task<Service?> GetServiceAsync(string @namespace, string name, CancellationToken cancellationToken) => Task.FromResult<Service?>(_service);
    }

    /// <summary>
    /// A watch whose reader resumes inline on the thread that pushes an event (continuations are not forced asynchronous),
    /// so the event is handled to the end before <see cref="Push"/> returns.
    /// </summary>
    private sealed class InlineWatchStream<T> : IWatchStream<T>, IAsyncEnumerator<WatchEvent<T>>, IValueTaskSource<bool>
    {
        private ManualResetValueTaskSourceCore<bool> _next = new() { RunContinuationsAsynchronously = false };
        private CancellationTokenRegistration _cancel;

        public WatchEvent<T> Current { get; private set; } = null!;

        public void Push(WatchEvent<T> e)
        {
            Current = e;
            _next.SetResult(true);
        }

        public async IAsyncEnumerable<WatchEvent<T>> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            _cancel = cancellationToken.Register(() =>
            {
                try
                {
                    _next.SetException(new OperationCanceledException(cancellationToken));
                }
                catch (InvalidOperationException)
                {
                    // No read pending: the reader sees the cancellation on its next read.
                }
            });
            while (await MoveNextAsync().ConfigureAwait(false))
            {
                yield return Current;
            }
        }

        public ValueTask<bool> MoveNextAsync()
        {
            _next.Reset();
            return new ValueTask<bool>(this, _next.Version);
        }

        public bool GetResult(short token) => _next.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _next.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _next.OnCompleted(continuation, state, token, flags);

        public ValueTask DisposeAsync()
        {
            _cancel.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
