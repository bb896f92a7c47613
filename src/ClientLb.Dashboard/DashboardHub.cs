using ClientLb.Balancing;
using ClientLb.Names;
using ClientLb.Registry;

namespace ClientLb.Dashboard;

/// <summary>
/// The dashboard's view of one registry. It follows every balancer's source and picker changes (a change is pushed at
/// once), and every <see cref="ClientLbDashboardOptions.RefreshInterval"/> samples pick rates, follows new and released
/// services, and re-reads the services whose rate or staleness moved. Each service's summary is cached and rebuilt only
/// when that service changed, so the list of thousands of services costs O(changed) per refresh, however many browsers
/// watch, and the first browser finds it ready.
/// </summary>
internal sealed class DashboardHub : IDisposable
{
    private const int PruneEveryTicks = 60;
    private readonly Lock _gate = new();
    private readonly ServiceRegistry _registry;
    private readonly Dictionary<ServiceBalancer, Tracked> _tracked = new(ReferenceEqualityComparer.Instance);
    private readonly ITimer _timer;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Frame _frame = new([], new Dictionary<string, ServiceBalancer>(StringComparer.Ordinal));
    // Set when a tracked service changed or the set of services did; cleared when the frame is rebuilt (under _gate).
    private volatile bool _dirty = true;
    private bool _membershipChanged = true;
    private bool _disposed;
    private long _ticks;

    public DashboardHub(ServiceRegistry registry, ClientLbDashboardOptions options)
    {
        _registry = registry;
        Options = options;
        Picks = new PickCounters(registry.Metrics, registry.TimeProvider);
        _timer = registry.TimeProvider.CreateTimer(static state => ((DashboardHub)state!).OnTick(), this, options.RefreshInterval, options.RefreshInterval);
    }

    public ClientLbDashboardOptions Options { get; }

    public PickCounters Picks { get; }

    /// <summary>Cancelled when the hub stops (the app is stopping): open event streams end, so shutdown does not wait for them.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Completes at the next change (an endpoint, an ejection, a source status, or the refresh interval). Take it before reading.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>The services and their summaries now; rebuilt from the cached summaries, re-reading only services that changed.</summary>
    public Frame Current()
    {
        lock (_gate)
        {
            if (!_dirty)
            {
                return _frame;
            }
            _dirty = false;
            Track();
            var summaries = new ServiceSummary[_tracked.Count];
            int i = 0;
            foreach (Tracked tracked in _tracked.Values)
            {
                if (tracked.Dirty || tracked.Summary is null)
                {
                    tracked.Dirty = false;
                    tracked.Summary = DashboardModel.Summarize(tracked.Balancer, Picks);
                }
                summaries[i++] = tracked.Summary;
            }
            Array.Sort(summaries, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            IReadOnlyDictionary<string, ServiceBalancer> balancers = _frame.Balancers;
            if (_membershipChanged)
            {
                _membershipChanged = false;
                balancers = _tracked.Values.ToDictionary(static t => t.Key, static t => t.Balancer, StringComparer.Ordinal);
            }
            return _frame = new Frame(summaries, balancers);
        }
    }

    /// <summary>One service's summary, facts and endpoint rows, or null when the app does not resolve it (now).</summary>
    public (ServiceSummary Summary, ServiceFacts Facts, EndpointRow[] Rows)? Detail(string key) =>
        Current().Balancers.TryGetValue(key, out ServiceBalancer? balancer) ? DashboardModel.Detail(balancer.GetDiagnostics(), Picks) : null;

    private void OnTick()
    {
        Picks.Sample();
        if (Interlocked.Increment(ref _ticks) % PruneEveryTicks == 0)
        {
            Picks.Prune(LiveEndpoints());
        }
        lock (_gate)
        {
            Track();
            foreach (Tracked tracked in _tracked.Values)
            {
                // Rates and staleness move without an event: re-read the services where they did.
                if (tracked.Summary is { } summary && (!summary.SourceHealthy || summary.PicksPerSecond != Math.Round(Picks.ForService(tracked.Balancer.Service.Id).PerSecond, 1)))
                {
                    tracked.Dirty = true;
                    _dirty = true;
                }
            }
        }
        // Build now, off any request: the first browser to open the page finds the list ready.
        Current();
        Notify();
    }

    private void Notify() =>
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private void OnServiceChanged(Tracked tracked)
    {
        tracked.Dirty = true;
        _dirty = true;
        Notify();
    }

    private Dictionary<string, HashSet<string>> LiveEndpoints()
    {
        var live = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (ServiceBalancer balancer in _registry.Balancers)
        {
            if (!live.TryGetValue(balancer.Service.Id, out HashSet<string>? authorities))
            {
                live[balancer.Service.Id] = authorities = new HashSet<string>(StringComparer.Ordinal);
            }
            foreach (Endpoints.Endpoint endpoint in balancer.Source.Current?.Endpoints ?? [])
            {
                authorities.Add(endpoint.Authority);
            }
        }
        return live;
    }

    // Under _gate: follow balancers the registry created since, forget those it released.
    private void Track()
    {
        if (_disposed)
        {
            return;
        }
        IReadOnlyCollection<ServiceBalancer> live = _registry.Balancers;
        if (live.Count == _tracked.Count && live.All(_tracked.ContainsKey))
        {
            return;
        }
        var current = new HashSet<ServiceBalancer>(live, ReferenceEqualityComparer.Instance);
        foreach (ServiceBalancer gone in _tracked.Keys.Where(b => !current.Contains(b)).ToList())
        {
            _tracked.Remove(gone, out Tracked? tracked);
            tracked!.Subscription?.Dispose();
        }
        foreach (ServiceBalancer balancer in live)
        {
            if (!_tracked.ContainsKey(balancer))
            {
                var tracked = new Tracked(balancer, DashboardModel.KeyOf(balancer.Service));
                // A status-only change (a failing source keeping its endpoints) reaches the source's subscribers; a new
                // picker (endpoints, ejection, return) completes PickerChanged.
                tracked.Subscription = balancer.Source.Subscribe(_ => OnServiceChanged(tracked));
                _tracked.Add(balancer, tracked);
                WatchPicker(tracked);
            }
        }
        _membershipChanged = true;
        _dirty = true;
    }

    private void WatchPicker(Tracked tracked)
    {
        if (tracked.Balancer.Stopped.IsCancellationRequested || _disposed)
        {
            return;
        }
        tracked.Balancer.PickerChanged.ContinueWith(static (_, state) =>
        {
            (DashboardHub hub, Tracked tracked) = ((DashboardHub, Tracked))state!;
            hub.OnServiceChanged(tracked);
            hub.WatchPicker(tracked);
        }, (this, tracked), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (Tracked tracked in _tracked.Values)
            {
                tracked.Subscription?.Dispose();
            }
            _tracked.Clear();
        }
        _stopping.Cancel();
        _timer.Dispose();
        Picks.Dispose();
    }

    /// <summary>The service list at one moment: summaries sorted by key, and the balancer of each key.</summary>
    internal sealed record Frame(ServiceSummary[] Summaries, IReadOnlyDictionary<string, ServiceBalancer> Balancers);

    /// <summary>A balancer the hub follows, and its summary as last built.</summary>
    private sealed class Tracked(ServiceBalancer balancer, string key)
    {
        public ServiceBalancer Balancer { get; } = balancer;

        public string Key { get; } = key;

        public IDisposable? Subscription { get; set; }

        public ServiceSummary? Summary { get; set; }

        public volatile bool Dirty = true;
    }
}
