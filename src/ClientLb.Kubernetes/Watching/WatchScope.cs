using System.Collections.Immutable;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// The watches of one scope: one service of a namespace (slices by label, the Service by name) or the whole
/// namespace (every slice with a service-name label, every Service). Keeps the objects it saw, grouped by
/// service, and hands each changed service's state to its view when this scope feeds that view.
/// </summary>
internal sealed class WatchScope : IAsyncDisposable
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Dictionary<string, EndpointSlice>> _slices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Service> _services = new(StringComparer.Ordinal);
    private readonly Func<string, ServiceView?> _viewOf;
    private readonly Func<IEnumerable<ServiceView>> _views;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ResourceWatcher<EndpointSlice> _slicesWatcher;
    private readonly ResourceWatcher<Service> _servicesWatcher;
    private Task _running = Task.CompletedTask;
    private bool _slicesListed;
    private bool _servicesListed;
    private bool _slicesFailing;
    private bool _servicesFailing;
    private string? _slicesAt;
    private string? _servicesAt;

    /// <param name="api">The API.</param>
    /// <param name="ns">The namespace.</param>
    /// <param name="service">The one service watched, or null for the whole namespace.</param>
    /// <param name="viewOf">The view of a service name, if any is in use.</param>
    /// <param name="views">Every view this scope may feed (for failures, and to tell each the state once listed).</param>
    /// <param name="settings">Loop timing.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="metrics">The metrics.</param>
    public WatchScope(IKubernetesApi api, string ns, string? service, Func<string, ServiceView?> viewOf, Func<IEnumerable<ServiceView>> views,
        WatchSettings settings, TimeProvider time, ILogger logger, KubernetesMetrics metrics)
    {
        Namespace = ns;
        ServiceName = service;
        _viewOf = viewOf;
        _views = views;
        var sliceOptions = new ListOptions(LabelSelector: service is null ? ServiceNameLabel : $"{ServiceNameLabel}={service}");
        var serviceOptions = new ListOptions(FieldSelector: service is null ? null : $"metadata.name={service}");
        string where = service is null ? $"namespace {ns}" : $"{ns}/{service}";
        var slices = new ResourceWatcher<EndpointSlice>($"endpointslices ({where})",
            ct => api.ListEndpointSlicesAsync(ns, sliceOptions, ct),
            (rv, timeout, ct) => api.WatchEndpointSlicesAsync(ns, sliceOptions, rv, timeout, ct),
            static s => s.Metadata.ResourceVersion, new SliceSink(this), settings, time, logger, metrics);
        var services = new ResourceWatcher<Service>($"services ({where})",
            ct => api.ListServicesAsync(ns, serviceOptions, ct),
            (rv, timeout, ct) => api.WatchServicesAsync(ns, serviceOptions, rv, timeout, ct),
            static s => s.Metadata.ResourceVersion, new ServiceSink(this), settings, time, logger, metrics);
        _slicesWatcher = slices;
        _servicesWatcher = services;
    }

    /// <summary>Starts both loops; call after the views this scope feeds point at it.</summary>
    public void Start()
    {
        CancellationToken token = _stopping.Token;
        _running = Task.WhenAll(Task.Run(() => _slicesWatcher.RunAsync(token)), Task.Run(() => _servicesWatcher.RunAsync(token)));
    }

    public string Namespace { get; }

    /// <summary>The one service watched, or null for a namespace-wide scope.</summary>
    public string? ServiceName { get; }

    public bool Synced
    {
        get
        {
            lock (_gate)
            {
                return _slicesListed && _servicesListed;
            }
        }
    }

    public bool Healthy
    {
        get
        {
            lock (_gate)
            {
                return !_slicesFailing && !_servicesFailing;
            }
        }
    }

    /// <summary>
    /// Makes this scope the view's feeder with its current state for that service, under this scope's lock so no
    /// delivery can fall between reading the state and switching.
    /// </summary>
    public void Attach(ServiceView view)
    {
        lock (_gate)
        {
            view.SwitchFeeder(this, DataOfLocked(view.Name), !_slicesFailing && !_servicesFailing);
        }
    }

    /// <summary>
    /// Hands the view over to this scope once this scope's state of the service is not older than the view's (at once
    /// when it is not); the view's current feeder goes on feeding until then. Under this scope's lock like <see cref="Attach"/>.
    /// </summary>
    public void Adopt(ServiceView view)
    {
        lock (_gate)
        {
            view.HandOverTo(this, DataOfLocked(view.Name));
        }
    }

    private ServiceData DataOfLocked(string service)
    {
        ImmutableArray<EndpointSlice> slices = _slices.TryGetValue(service, out Dictionary<string, EndpointSlice>? byName)
            ? [.. byName.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value)]
            : [];
        return new ServiceData(Namespace, service, _services.GetValueOrDefault(service), slices, _slicesListed && _servicesListed)
        {
            SlicesVersion = _slicesAt,
            ServicesVersion = _servicesAt,
        };
    }

    /// <summary>Feeds the view of <paramref name="service"/>, if it exists, from the cache (caller holds the lock).</summary>
    private void DeliverLocked(string service)
    {
        if (_viewOf(service) is ServiceView view)
        {
            view.Apply(this, DataOfLocked(service));
        }
    }

    private void DeliverAllLocked(IEnumerable<string> services)
    {
        foreach (string service in services)
        {
            DeliverLocked(service);
        }
    }

    private void AfterListLocked(HashSet<string> touched)
    {
        bool synced = _slicesListed && _servicesListed;
        if (synced)
        {
            // Every view this scope feeds learns the state, including "no such service".
            foreach (ServiceView view in _views())
            {
                touched.Add(view.Name);
            }
        }
        DeliverAllLocked(touched);
    }

    private static string? ServiceOf(EndpointSlice slice) =>
        slice.Metadata.Labels?.GetValueOrDefault(ServiceNameLabel) is { Length: > 0 } name ? name : null;

    private void ListedSlices(IReadOnlyList<EndpointSlice> items)
    {
        lock (_gate)
        {
            var touched = new HashSet<string>(_slices.Keys, StringComparer.Ordinal);
            _slices.Clear();
            foreach (EndpointSlice slice in items)
            {
                if (ServiceOf(slice) is string service && slice.Metadata.Name is string name)
                {
                    GetOrAdd(service)[name] = slice;
                    touched.Add(service);
                }
            }
            _slicesListed = true;
            // Set before the sink is called: the version this list was read at.
            _slicesAt = _slicesWatcher.ResourceVersion;
            AfterListLocked(touched);
        }
    }

    private Dictionary<string, EndpointSlice> GetOrAdd(string service)
    {
        if (!_slices.TryGetValue(service, out Dictionary<string, EndpointSlice>? byName))
        {
            _slices[service] = byName = new Dictionary<string, EndpointSlice>(StringComparer.Ordinal);
        }
        return byName;
    }

    private void UpsertSlice(EndpointSlice slice)
    {
        lock (_gate)
        {
            _slicesAt = slice.Metadata.ResourceVersion ?? _slicesAt;
            if (ServiceOf(slice) is not string service || slice.Metadata.Name is not string name)
            {
                return;
            }
            // A relabelled slice moves: drop it from the service it belonged to.
            foreach ((string other, Dictionary<string, EndpointSlice> byName) in _slices)
            {
                if (other != service && byName.Remove(name))
                {
                    DeliverLocked(other);
                }
            }
            GetOrAdd(service)[name] = slice;
            DeliverLocked(service);
        }
    }

    private void DeleteSlice(EndpointSlice slice)
    {
        lock (_gate)
        {
            // A deleted object carries the resourceVersion of its deletion.
            _slicesAt = slice.Metadata.ResourceVersion ?? _slicesAt;
            if (slice.Metadata.Name is not string name)
            {
                return;
            }
            foreach ((string service, Dictionary<string, EndpointSlice> byName) in _slices)
            {
                if (byName.Remove(name))
                {
                    DeliverLocked(service);
                }
            }
        }
    }

    private void ListedServices(IReadOnlyList<Service> items)
    {
        lock (_gate)
        {
            var touched = new HashSet<string>(_services.Keys, StringComparer.Ordinal);
            _services.Clear();
            foreach (Service service in items)
            {
                if (service.Metadata.Name is string name)
                {
                    _services[name] = service;
                    touched.Add(name);
                }
            }
            _servicesListed = true;
            _servicesAt = _servicesWatcher.ResourceVersion;
            AfterListLocked(touched);
        }
    }

    private void UpsertService(Service service)
    {
        lock (_gate)
        {
            _servicesAt = service.Metadata.ResourceVersion ?? _servicesAt;
            if (service.Metadata.Name is string name)
            {
                _services[name] = service;
                DeliverLocked(name);
            }
        }
    }

    private void DeleteService(Service service)
    {
        lock (_gate)
        {
            _servicesAt = service.Metadata.ResourceVersion ?? _servicesAt;
            if (service.Metadata.Name is string name && _services.Remove(name))
            {
                DeliverLocked(name);
            }
        }
    }

    private void Failed(bool slices, Exception error)
    {
        lock (_gate)
        {
            _slicesFailing |= slices;
            _servicesFailing |= !slices;
            foreach (ServiceView view in _views())
            {
                view.Fail(this, error);
            }
        }
    }

    private void Recovered(bool slices)
    {
        lock (_gate)
        {
            bool wasFailing = _slicesFailing || _servicesFailing;
            if (slices)
            {
                _slicesFailing = false;
            }
            else
            {
                _servicesFailing = false;
            }
            // Fresh again only when both watches reach the server.
            if (!wasFailing || _slicesFailing || _servicesFailing)
            {
                return;
            }
            foreach (ServiceView view in _views())
            {
                view.Recovered(this);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        _stopping.Cancel();
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stopping.Dispose();
    }

    private sealed class SliceSink(WatchScope scope) : IWatchSink<EndpointSlice>
    {
        public void OnListed(IReadOnlyList<EndpointSlice> items) => scope.ListedSlices(items);

        public void OnUpsert(EndpointSlice item) => scope.UpsertSlice(item);

        public void OnDeleted(EndpointSlice item) => scope.DeleteSlice(item);

        public void OnRecovered() => scope.Recovered(slices: true);

        public void OnFailure(Exception error, int attempt, TimeSpan retryIn) => scope.Failed(slices: true, error);
    }

    private sealed class ServiceSink(WatchScope scope) : IWatchSink<Service>
    {
        public void OnListed(IReadOnlyList<Service> items) => scope.ListedServices(items);

        public void OnUpsert(Service item) => scope.UpsertService(item);

        public void OnDeleted(Service item) => scope.DeleteService(item);

        public void OnRecovered() => scope.Recovered(slices: false);

        public void OnFailure(Exception error, int attempt, TimeSpan retryIn) => scope.Failed(slices: false, error);
    }
}
