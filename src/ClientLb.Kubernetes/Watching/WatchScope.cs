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
    // Per service, its slices sorted by name (what ServiceData hands out, so a delivery copies nothing); and which
    // service each slice belongs to, so an event finds its service without scanning them all.
    private readonly Dictionary<string, ImmutableArray<EndpointSlice>> _slices = new(StringComparer.Ordinal);
    // Zone and node names of the kept slices, one string each (see EndpointSlice.Compact); written under _gate.
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _serviceOfSlice = new(StringComparer.Ordinal);
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
        // One service: list and watch it, or read it with get when only that is allowed (NamedServiceReader).
        var services = service is null
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
        ImmutableArray<EndpointSlice> slices = _slices.GetValueOrDefault(service, []);
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
        slice.Metadata.ServiceNameLabel is { Length: > 0 } name ? name : null;

    // The view's string for a service name when there is a view (the name the application asked for), so the Service,
    // its slices and this cache's keys share it rather than each keep a decoded copy.
    private string SharedName(string service) => _viewOf(service)?.Name ?? service;

    private void ListedSlices(IReadOnlyList<EndpointSlice> items)
    {
        lock (_gate)
        {
            var touched = new HashSet<string>(_slices.Keys, StringComparer.Ordinal);
            var grouped = new Dictionary<string, List<EndpointSlice>>(StringComparer.Ordinal);
            _slices.Clear();
            _serviceOfSlice.Clear();
            foreach (EndpointSlice slice in items)
            {
                if (ServiceOf(slice) is string service && slice.Metadata.Name is string name && _serviceOfSlice.TryAdd(name, service = SharedName(service)))
                {
                    slice.Compact(_names, service);
                    if (!grouped.TryGetValue(service, out List<EndpointSlice>? list))
                    {
                        grouped[service] = list = [];
                    }
                    list.Add(slice);
                    touched.Add(service);
                }
            }
            foreach ((string service, List<EndpointSlice> list) in grouped)
            {
                list.Sort(static (a, b) => string.CompareOrdinal(a.Metadata.Name, b.Metadata.Name));
                _slices[service] = [.. list];
            }
            _slicesListed = true;
            // Set before the sink is called: the version this list was read at.
            _slicesAt = _slicesWatcher.ResourceVersion;
            AfterListLocked(touched);
        }
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
            if (_serviceOfSlice.TryGetValue(name, out string? owner) && owner != service)
            {
                RemoveLocked(owner, name);
                DeliverLocked(owner);
            }
            service = SharedName(service);
            _serviceOfSlice[name] = service;
            slice.Compact(_names, service);
            ImmutableArray<EndpointSlice> slices = _slices.GetValueOrDefault(service, []);
            int at = IndexOf(slices, name);
            _slices[service] = at >= 0 ? slices.SetItem(at, slice) : slices.Insert(~at, slice);
            DeliverLocked(service);
        }
    }

    private void DeleteSlice(EndpointSlice slice)
    {
        lock (_gate)
        {
            // A deleted object carries the resourceVersion of its deletion.
            _slicesAt = slice.Metadata.ResourceVersion ?? _slicesAt;
            if (slice.Metadata.Name is string name && _serviceOfSlice.Remove(name, out string? service))
            {
                RemoveLocked(service, name);
                DeliverLocked(service);
            }
        }
    }

    private void RemoveLocked(string service, string slice)
    {
        ImmutableArray<EndpointSlice> slices = _slices.GetValueOrDefault(service, []);
        int at = IndexOf(slices, slice);
        if (at < 0)
        {
            return;
        }
        if (slices.Length == 1)
        {
            _slices.Remove(service);
        }
        else
        {
            _slices[service] = slices.RemoveAt(at);
        }
    }

    /// <summary>Binary search by slice name: the index, or the complement of where it would go.</summary>
    private static int IndexOf(ImmutableArray<EndpointSlice> slices, string name)
    {
        int lo = 0, hi = slices.Length - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            int order = string.CompareOrdinal(slices[mid].Metadata.Name, name);
            if (order == 0)
            {
                return mid;
            }
            if (order < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return ~lo;
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
                    service.Compact(name = SharedName(name));
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
                service.Compact(name = SharedName(name));
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
