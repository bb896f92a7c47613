using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Client;

/// <summary>Selects what a list or watch returns.</summary>
/// <param name="LabelSelector">E.g. <c>kubernetes.io/service-name=payments</c>; null for all.</param>
/// <param name="FieldSelector">E.g. <c>metadata.name=payments</c>; null for all.</param>
internal readonly record struct ListOptions(string? LabelSelector = null, string? FieldSelector = null);

/// <summary>
/// The narrow part of the Kubernetes API that service discovery needs: list and watch EndpointSlices and Services
/// in a namespace, or in all namespaces when the namespace argument is empty (<c>""</c>). Shaped after the API (and KubernetesClient), so an adapter to that library can replace
/// <see cref="KubernetesApiClient"/> when it is available.
/// </summary>
internal interface IKubernetesApi
{
    /// <summary>Where requests go, for messages (never contains credentials).</summary>
    string Description { get; }

    /// <summary>Lists <c>discovery.k8s.io/v1</c> EndpointSlices (all pages).</summary>
    Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a watch of EndpointSlices from <paramref name="resourceVersion"/>, with bookmarks, for at most <paramref name="timeout"/>.
    /// Completes once the server accepted it; ERROR events are returned (with <see cref="WatchEvent{T}.Status"/>), not thrown.
    /// </summary>
    Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Lists <c>v1</c> Services (all pages).</summary>
    Task<KubernetesList<Service>> ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken);

    /// <summary>Watches Services, as <see cref="WatchEndpointSlicesAsync"/>.</summary>
    Task<IWatchStream<Service>> WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>
    /// Reads one <c>v1</c> Service by name (the <c>get</c> verb): null when it does not exist. Used when an account may
    /// get the Service but not list and watch Services.
    /// </summary>
    Task<Service?> GetServiceAsync(string @namespace, string name, CancellationToken cancellationToken);
}

/// <summary>An open watch: the events in order until the server ends the watch. Dispose to close it.</summary>
/// <typeparam name="T">The watched type.</typeparam>
internal interface IWatchStream<T> : IAsyncDisposable
{
    /// <summary>Reads the events; the enumeration ends when the server ends the watch (timeout, restart).</summary>
    IAsyncEnumerable<WatchEvent<T>> ReadAsync(CancellationToken cancellationToken);
}
