using System.Threading.Channels;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Agent.Tests.Watch;

/// <summary>Lists what the test put in; each watch streams the test's events (one channel per kind).</summary>
internal sealed class InMemoryKubernetesApi : IKubernetesApi
{
    public List<Service> Services { get; } = [];
    public List<EndpointSlice> Slices { get; } = [];
    public Channel<WatchEvent<Service>> ServiceEvents { get; } = Channel.CreateUnbounded<WatchEvent<Service>>();
    public Channel<WatchEvent<EndpointSlice>> SliceEvents { get; } = Channel.CreateUnbounded<WatchEvent<EndpointSlice>>();
    public int SliceLists;

    public List<string> ListedNamespaces { get; } = [];

    public string Description => "in-memory";

    public Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken)
    {
        lock (ListedNamespaces)
        {
            ListedNamespaces.Add(@namespace);
        }
        Interlocked.Increment(ref SliceLists);
        return Task.FromResult(new KubernetesList<EndpointSlice> { Metadata = new() { ResourceVersion = "10" }, Items = [.. Slices] });
    }

    public Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        Task.FromResult<IWatchStream<EndpointSlice>>(new Stream<EndpointSlice>(SliceEvents.Reader));

    public Task<KubernetesList<Service>> ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
        Task.FromResult(new KubernetesList<Service> { Metadata = new() { ResourceVersion = "10" }, Items = [.. Services] });

    public Task<IWatchStream<Service>> WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        Task.FromResult<IWatchStream<Service>>(new Stream<Service>(ServiceEvents.Reader));

    public Task<Service?> GetServiceAsync(string @namespace, string name, CancellationToken cancellationToken) =>
        Task.FromResult(Services.FirstOrDefault(s => s.Metadata.Namespace == @namespace && s.Metadata.Name == name));

    private sealed class Stream<T>(ChannelReader<WatchEvent<T>> events) : IWatchStream<T>
    {
        public IAsyncEnumerable<WatchEvent<T>> ReadAsync(CancellationToken cancellationToken) => events.ReadAllAsync(cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
