using System.Collections.Immutable;
using System.Diagnostics.Metrics;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// Shares watches: one view per (namespace, service) however many sources (ports, schemes) use it, one watch
/// scope per service, and one namespace-wide scope instead once <see cref="KubernetesSourceOptions.NamespaceWatchThreshold"/>
/// services of a namespace are watched, back to per-service scopes when fewer than half of that remain. Every switch
/// is a hand-over per view (<see cref="WatchScope.Adopt"/>): the old scope feeds a view until the new one's state is
/// not older, and stops when it feeds no view. A scope stops when no source uses it any more.
/// </summary>
internal sealed class KubernetesWatchManager : IServiceViewProvider, IAsyncDisposable
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

    /// <inheritdoc />
    public string Description => _api.Description;

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
            view = new ServiceView(ns, service, _time, _ => HandedOver(group)) { References = 1 };
            group.Views = group.Views.Add(service, view);
            if (!group.WideTarget && group.Views.Count >= _options.NamespaceWatchThreshold)
            {
                GoWideLocked(group);
            }
            if (group.WideTarget)
            {
                // Served from the namespace-wide cache, or from its first list when that is still running.
                group.Wide!.Attach(view);
            }
            else
            {
                WatchScope scope = StartPerServiceLocked(group, service);
                scope.Attach(view);
                scope.Start();
            }
            return new ViewLease(this, view);
        }
    }

    /// <summary>
    /// Fewer than this many watched services switch a namespace-wide namespace back to per-service scopes: half the
    /// threshold, so a count moving around the threshold does not re-list the namespace (or every service) each time,
    /// while a namespace that lost most of its services stops caching and streaming all the others. Thresholds of 1
    /// and 2 never switch back (the namespace-wide scope then ends with the last service).
    /// </summary>
    private bool BelowLowWater(NamespaceGroup group) => group.Views.Count * 2 < _options.NamespaceWatchThreshold;

    private WatchScope StartPerServiceLocked(NamespaceGroup group, string service)
    {
        var scope = new WatchScope(_api, group.Namespace, service,
            name => name == service ? group.Views.GetValueOrDefault(name) : null,
            () => group.Views.TryGetValue(service, out ServiceView? v) ? [v] : [],
            _settings, _time, _logger, _metrics);
        group.PerService[service] = scope;
        return scope;
    }

    private void GoWideLocked(NamespaceGroup group)
    {
        group.WideTarget = true;
        if (group.Wide is WatchScope running)
        {
            // Still switching back: the namespace-wide scope is current, take back the views it handed over.
            Log.NamespaceWide(_logger, group.Namespace, group.Views.Count, resumed: true);
            foreach (ServiceView view in group.Views.Values)
            {
                running.Adopt(view);
            }
            CollectLocked(group);
            return;
        }
        Log.NamespaceWide(_logger, group.Namespace, group.Views.Count, resumed: false);
        var wide = new WatchScope(_api, group.Namespace, null,
            name => group.Views.GetValueOrDefault(name),
            () => group.Views.Values,
            _settings, _time, _logger, _metrics);
        group.Wide = wide;
        foreach (ServiceView view in group.Views.Values)
        {
            // Each view moves once the namespace-wide list caught up with it; its per-service scope feeds it until then.
            wide.Adopt(view);
        }
        wide.Start();
    }

    private void GoPerServiceLocked(NamespaceGroup group)
    {
        Log.PerServiceWatches(_logger, group.Namespace, group.Views.Count);
        group.WideTarget = false;
        foreach ((string service, ServiceView view) in group.Views)
        {
            // A per-service scope left from an unfinished switch to namespace-wide still runs: take it back.
            if (group.PerService.TryGetValue(service, out WatchScope? scope))
            {
                scope.Adopt(view);
                continue;
            }
            scope = StartPerServiceLocked(group, service);
            scope.Adopt(view);
            scope.Start();
        }
        CollectLocked(group);
    }

    /// <summary>A view changed feeder: stop the scopes that no longer feed anything.</summary>
    private void HandedOver(NamespaceGroup group)
    {
        // Called under a scope's and a view's lock: collect on another thread to keep the lock order manager -> scope -> view.
        _ = Task.Run(() =>
        {
            lock (_gate)
            {
                if (!_disposed && _groups.GetValueOrDefault(group.Namespace) == group)
                {
                    CollectLocked(group);
                }
            }
        });
    }

    /// <summary>Stops the scopes of the mode being left once no view is fed by them any more.</summary>
    private void CollectLocked(NamespaceGroup group)
    {
        // Feeder is read without the view's lock: a view switching meanwhile calls HandedOver, which collects again.
        var retired = new List<WatchScope>();
        if (group.WideTarget)
        {
            foreach ((string service, WatchScope scope) in group.PerService)
            {
                if (group.Views.GetValueOrDefault(service)?.Feeder != scope)
                {
                    retired.Add(scope);
                }
            }
            foreach (WatchScope scope in retired)
            {
                group.PerService.Remove(scope.ServiceName!);
            }
        }
        else if (group.Wide is WatchScope wide && group.Views.Values.All(v => v.Feeder != wide))
        {
            retired.Add(wide);
            group.Wide = null;
        }
        StopLocked(retired);
    }

    public void Release(ServiceView view)
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
            if (group.Views.Count > 0)
            {
                if (group.WideTarget && BelowLowWater(group))
                {
                    GoPerServiceLocked(group);
                }
                else
                {
                    // The released view may have been the last one a retiring scope still fed.
                    CollectLocked(group);
                }
            }
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

        /// <summary>The namespace-wide scope: the target, or still feeding views while switching back.</summary>
        public WatchScope? Wide { get; set; }

        /// <summary>Whether views are (being) moved to <see cref="Wide"/>; else to their per-service scopes.</summary>
        public bool WideTarget { get; set; }

        public IEnumerable<WatchScope> AllScopes() => Wide is null ? PerService.Values : PerService.Values.Append(Wide);
    }
}

/// <summary>Hands out shared views of services: the API watches (<see cref="KubernetesWatchManager"/>) or the node relay.</summary>
internal interface IServiceViewProvider
{
    /// <summary>Where the views come from, for messages.</summary>
    string Description { get; }

    /// <summary>Takes a reference on the view of a service, starting what feeds it when it is the first.</summary>
    ViewLease Acquire(string ns, string service);

    /// <summary>Drops a reference taken by <see cref="Acquire"/>; the last one stops what feeds the view.</summary>
    void Release(ServiceView view);
}

/// <summary>A source's reference on a shared view; dispose to release it (the last release stops the watch).</summary>
internal sealed class ViewLease(IServiceViewProvider manager, ServiceView view) : IDisposable
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
