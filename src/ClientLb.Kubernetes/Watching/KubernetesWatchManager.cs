using System.Collections.Immutable;
using System.Diagnostics.Metrics;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// Shares watches: one view per (namespace, service) however many sources (ports, schemes) use it, one watch
/// scope per service, and one namespace-wide scope instead once <see cref="KubernetesSourceOptions.NamespaceWatchThreshold"/>
/// services of a namespace are watched. A scope stops when no source uses it any more.
/// </summary>
internal sealed class KubernetesWatchManager : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, NamespaceGroup> _groups = new(StringComparer.Ordinal);
    private readonly List<Task> _stopping = [];
    private readonly IKubernetesApi _api;
    private readonly KubernetesSourceOptions _options;
    private readonly WatchSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KubernetesMetrics _metrics;
    private bool _disposed;

    public KubernetesWatchManager(IKubernetesApi api, KubernetesSourceOptions options, TimeProvider time, ILogger logger, KubernetesMetrics metrics)
    {
        _api = api;
        _options = options;
        _settings = WatchSettings.From(options);
        _time = time;
        _logger = logger;
        _metrics = metrics;
        metrics.Observe(ObserveStaleness, () => Scopes.Count);
    }

    public IKubernetesApi Api => _api;

    /// <summary>Every view in use.</summary>
    public IReadOnlyList<ServiceView> Views
    {
        get
        {
            lock (_gate)
            {
                return [.. _groups.Values.SelectMany(g => g.Views.Values)];
            }
        }
    }

    /// <summary>The running scopes: (namespace, service) or (namespace, null) for a namespace-wide one.</summary>
    public IReadOnlyList<(string Namespace, string? Service)> Scopes
    {
        get
        {
            lock (_gate)
            {
                return [.. _groups.Values.SelectMany(g => g.AllScopes()).Select(s => (s.Namespace, s.ServiceName))];
            }
        }
    }

    /// <summary>Takes a reference on the view of a service, starting its watch when it is the first.</summary>
    public ViewLease Acquire(string ns, string service)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_groups.TryGetValue(ns, out NamespaceGroup? group))
            {
                _groups[ns] = group = new NamespaceGroup(ns);
            }
            if (group.Views.TryGetValue(service, out ServiceView? view))
            {
                view.References++;
                return new ViewLease(this, view);
            }
            view = new ServiceView(ns, service, _time) { References = 1 };
            group.Views = group.Views.Add(service, view);
            if (group.Wide is null && group.Views.Count >= _options.NamespaceWatchThreshold)
            {
                StartWideLocked(group);
            }
            if (group.Wide is WatchScope wide)
            {
                // Served from the namespace-wide cache, or from its first list when that is still running.
                wide.Attach(view);
            }
            else
            {
                var scope = new WatchScope(_api, ns, service,
                    name => name == service ? group.Views.GetValueOrDefault(name) : null,
                    () => group.Views.TryGetValue(service, out ServiceView? v) ? [v] : [],
                    null, _settings, _time, _logger, _metrics);
                group.PerService[service] = scope;
                scope.Attach(view);
                scope.Start();
            }
            return new ViewLease(this, view);
        }
    }

    private void StartWideLocked(NamespaceGroup group)
    {
        Log.NamespaceWide(_logger, group.Namespace, group.Views.Count);
        WatchScope? wide = null;
        wide = new WatchScope(_api, group.Namespace, null,
            name => group.Views.GetValueOrDefault(name),
            () => group.Views.Values,
            // Called under the scope's lock: hand over on another thread to keep the lock order manager -> scope -> view.
            synced => _ = Task.Run(() => HandOver(group, synced)),
            _settings, _time, _logger, _metrics);
        group.Wide = wide;
        wide.Start();
    }

    /// <summary>The namespace-wide scope has listed everything: it feeds every view and the per-service scopes stop.</summary>
    private void HandOver(NamespaceGroup group, WatchScope wide)
    {
        List<WatchScope> retired;
        lock (_gate)
        {
            if (group.Wide != wide)
            {
                return;
            }
            group.WideSynced = true;
            foreach (ServiceView view in group.Views.Values)
            {
                if (view.Feeder != wide)
                {
                    wide.Attach(view);
                }
            }
            retired = [.. group.PerService.Values];
            group.PerService.Clear();
            StopLocked(retired);
        }
    }

    internal void Release(ServiceView view)
    {
        lock (_gate)
        {
            if (--view.References > 0 || !_groups.TryGetValue(view.Namespace, out NamespaceGroup? group) || group.Views.GetValueOrDefault(view.Name) != view)
            {
                return;
            }
            group.Views = group.Views.Remove(view.Name);
            var retired = new List<WatchScope>();
            if (group.PerService.Remove(view.Name, out WatchScope? scope))
            {
                retired.Add(scope);
            }
            if (group.Views.Count == 0)
            {
                if (group.Wide is not null)
                {
                    retired.Add(group.Wide);
                }
                _groups.Remove(group.Namespace);
            }
            StopLocked(retired);
        }
    }

    private void StopLocked(List<WatchScope> scopes)
    {
        _stopping.RemoveAll(t => t.IsCompleted);
        foreach (WatchScope scope in scopes)
        {
            _stopping.Add(scope.DisposeAsync().AsTask());
        }
    }

    private IEnumerable<Measurement<double>> ObserveStaleness()
    {
        DateTimeOffset now = _time.GetUtcNow();
        foreach (ServiceView view in Views)
        {
            yield return new Measurement<double>(view.Staleness(now).TotalSeconds, new KeyValuePair<string, object?>("clientlb.service", view.Key));
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[] pending;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            List<WatchScope> all = [.. _groups.Values.SelectMany(g => g.AllScopes())];
            _groups.Clear();
            StopLocked(all);
            pending = [.. _stopping];
        }
        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    private sealed class NamespaceGroup(string ns)
    {
        public string Namespace => ns;

        /// <summary>Replaced, never mutated, so scopes can read it without the manager's lock.</summary>
        public ImmutableDictionary<string, ServiceView> Views { get; set; } = ImmutableDictionary.Create<string, ServiceView>(StringComparer.Ordinal);

        public Dictionary<string, WatchScope> PerService { get; } = new(StringComparer.Ordinal);

        public WatchScope? Wide { get; set; }

        public bool WideSynced { get; set; }

        public IEnumerable<WatchScope> AllScopes() => Wide is null ? PerService.Values : PerService.Values.Append(Wide);
    }
}

/// <summary>A source's reference on a shared view; dispose to release it (the last release stops the watch).</summary>
internal sealed class ViewLease(KubernetesWatchManager manager, ServiceView view) : IDisposable
{
    private int _released;

    public ServiceView View => view;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            manager.Release(view);
        }
    }
}
