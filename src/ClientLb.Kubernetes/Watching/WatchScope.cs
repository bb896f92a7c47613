using System.Collections.Immutable;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// The watches of one scope: one service of a namespace (slices by label, the Service by name) or the whole
/// namespace (every slice with a service-name label, every Service). Keeps the objects it saw in an
/// <see cref="EndpointSliceCache"/> and hands each changed service's state to its view when this scope feeds that view.
/// </summary>
internal sealed class WatchScope : IAsyncDisposable
{
    // The objects seen, grouped by service; its lock is this scope's: a delivery happens under it, right after the change.
    private readonly EndpointSliceCache _cache;
    // The services the current event touched (at most two), delivered then cleared (under the cache's lock).
    private readonly HashSet<ServiceKey> _touched = [];
    private readonly Func<string, ServiceView?> _viewOf;
    private readonly Func<IEnumerable<ServiceView>> _views;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ResourceWatcher<EndpointSlice> _slicesWatcher;
    private readonly ResourceWatcher<Service> _servicesWatcher;
    private Task _running = Task.CompletedTask;
    private bool _slicesFailing;
    private bool _servicesFailing;

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
        _cache = new EndpointSliceCache(ns);
        const string label = EndpointSliceCache.ServiceNameLabel;
        var sliceOptions = new ListOptions(LabelSelector: service is null ? label : $"{label}={service}");
        var serviceOptions = new ListOptions(FieldSelector: service is null ? null : $"metadata.name={service}");
        string where = service is null ? $"namespace {ns}" : $"{ns}/{service}";
        var slices = new ResourceWatcher<EndpointSlice>($"endpointslices ({where})",
            ct => api.ListEndpointSlicesAsync(ns, sliceOptions, ct),
            (rv, timeout, ct) => api.WatchEndpointSlicesAsync(ns, sliceOptions, rv, timeout, ct),
            static s => s.Metadata.ResourceVersion, new SliceSink(this), settings, time, logger, metrics);
        // One service: list and watch it, or read it with get when only that is allowed (NamedServiceReader).
        ResourceWatcher<Service> services = service is null
            ? new ResourceWatcher<Service>($"services ({where})",
                ct => api.ListServicesAsync(ns, serviceOptions, ct),
                (rv, timeout, ct) => api.WatchServicesAsync(ns, serviceOptions, rv, timeout, ct),
                static s => s.Metadata.ResourceVersion, new ServiceSink(this), settings, time, logger, metrics)
            : NamedServiceWatcher(new NamedServiceReader(api, ns, service, settings, time, logger), where, settings, time, logger, metrics);
        _slicesWatcher = slices;
        _servicesWatcher = services;
    }

    private ResourceWatcher<Service> NamedServiceWatcher(NamedServiceReader reader, string where, WatchSettings settings, TimeProvider time, ILogger logger,
        KubernetesMetrics metrics) =>
        new($"services ({where})", reader.ListAsync, reader.WatchAsync, static s => s.Metadata.ResourceVersion, new ServiceSink(this), settings, time, logger, metrics);

    /// <summary>Starts both loops; call after the views this scope feeds point at it.</summary>
    public void Start()
    {
        CancellationToken token = _stopping.Token;
        _running = Task.WhenAll(Task.Run(() => _slicesWatcher.RunAsync(token)), Task.Run(() => _servicesWatcher.RunAsync(token)));
    }

    public string Namespace { get; }

    /// <summary>The one service watched, or null for a namespace-wide scope.</summary>
    public string? ServiceName { get; }

    public bool Synced => _cache.Synced;

    public bool Healthy
    {
        get
        {
            lock (_cache.Gate)
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
        lock (_cache.Gate)
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
        lock (_cache.Gate)
        {
            view.HandOverTo(this, DataOfLocked(view.Name));
        }
    }

    private ServiceSlices DataOfLocked(string service) => _cache.GetLocked(new ServiceKey(Namespace, service));

    /// <summary>Feeds the views of the services a change touched, then forgets them (caller holds the lock).</summary>
    private void DeliverLocked(HashSet<ServiceKey> touched)
    {
        foreach (ServiceKey service in touched)
        {
            if (_viewOf(service.Name) is ServiceView view)
            {
                view.Apply(this, DataOfLocked(service.Name));
            }
        }
        touched.Clear();
    }

    private void AfterListLocked(HashSet<ServiceKey> touched)
    {
        if (_cache.SlicesListed && _cache.ServicesListed)
        {
            // Every view this scope feeds learns the state, including "no such service".
            foreach (ServiceView view in _views())
            {
                touched.Add(new ServiceKey(Namespace, view.Name));
            }
        }
        DeliverLocked(touched);
    }

    // A list gets a set of its own: the one kept for events stays small (an event touches at most two services).
    private void ListedSlices(IReadOnlyList<EndpointSlice> items)
    {
        lock (_cache.Gate)
        {
            var touched = new HashSet<ServiceKey>();
            // The version this list was read at (set before the sink is called).
            _cache.ListSlices(items, _slicesWatcher.ResourceVersion, touched);
            AfterListLocked(touched);
        }
    }

    private void ListedServices(IReadOnlyList<Service> items)
    {
        lock (_cache.Gate)
        {
            var touched = new HashSet<ServiceKey>();
            _cache.ListServices(items, _servicesWatcher.ResourceVersion, touched);
            AfterListLocked(touched);
        }
    }

    /// <summary>One event: the cache changes, then the views of what it touched hear of it. The changes are static lambdas (cached: an event allocates nothing here).</summary>
    private void Changed<T>(Action<EndpointSliceCache, T, ISet<ServiceKey>> change, T item)
    {
        lock (_cache.Gate)
        {
            change(_cache, item, _touched);
            DeliverLocked(_touched);
        }
    }

    private void Failed(bool slices, Exception error)
    {
        lock (_cache.Gate)
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
        lock (_cache.Gate)
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

        public void OnUpsert(EndpointSlice item) => scope.Changed(static (cache, slice, touched) => cache.UpsertSlice(slice, touched), item);

        public void OnDeleted(EndpointSlice item) => scope.Changed(static (cache, slice, touched) => cache.DeleteSlice(slice, touched), item);

        public void OnRecovered() => scope.Recovered(slices: true);

        public void OnFailure(Exception error, int attempt, TimeSpan retryIn) => scope.Failed(slices: true, error);
    }

    private sealed class ServiceSink(WatchScope scope) : IWatchSink<Service>
    {
        public void OnListed(IReadOnlyList<Service> items) => scope.ListedServices(items);

        public void OnUpsert(Service item) => scope.Changed(static (cache, service, touched) => cache.UpsertService(service, touched), item);

        public void OnDeleted(Service item) => scope.Changed(static (cache, service, touched) => cache.DeleteService(service, touched), item);

        public void OnRecovered() => scope.Recovered(slices: false);

        public void OnFailure(Exception error, int attempt, TimeSpan retryIn) => scope.Failed(slices: false, error);
    }
}
