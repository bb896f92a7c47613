using ClientLb.LoadBalancing;
using ClientLb.ServiceDiscovery;
using ClientLb.Sources;

namespace ClientLb.Dashboard;

/// <summary>
/// The dashboard's view of one registry: follows every balancer's source and picker changes (pushed at once), refreshes
/// rates, staleness and the set of services every <see cref="ClientLbDashboardOptions.RefreshInterval"/>, and builds the
/// service list at most once per change however many browsers watch.
/// </summary>
internal sealed class DashboardHub : IDisposable
{
    private readonly Lock _gate = new();
    private readonly ServiceRegistry _registry;
    private readonly Dictionary<ServiceBalancer, IDisposable> _tracked = new(ReferenceEqualityComparer.Instance);
    private readonly ITimer _timer;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version = 1;
    private Frame? _frame;
    private bool _disposed;
    private long _ticks;
    private const int PruneEveryTicks = 60;

    public DashboardHub(ServiceRegistry registry, ClientLbDashboardOptions options)
    {
        _registry = registry;
        Options = options;
        Picks = new PickCounters(registry.Metrics, registry.TimeProvider);
        _timer = registry.TimeProvider.CreateTimer(static state => ((DashboardHub)state!).OnTick(), this, options.RefreshInterval, options.RefreshInterval);
    }

    public ClientLbDashboardOptions Options { get; }

    public PickCounters Picks { get; }

    /// <summary>Completes at the next change (an endpoint, an ejection, a source status, or the refresh interval). Take it before reading.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>The services and their summaries as of the latest change; built once per change.</summary>
    public Frame Current()
    {
        lock (_gate)
        {
            long version = Volatile.Read(ref _version);
            if (_frame is { } frame && frame.Version == version)
            {
                return frame;
            }
            Track();
            var balancers = new Dictionary<string, ServiceBalancer>(_tracked.Count, StringComparer.Ordinal);
            var summaries = new List<ServiceSummary>(_tracked.Count);
            foreach (ServiceBalancer balancer in _tracked.Keys)
            {
                ServiceSummary summary = DashboardModel.Summarize(balancer.GetDiagnostics(), Picks);
                balancers[summary.Key] = balancer;
                summaries.Add(summary);
            }
            summaries.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            return _frame = new Frame(version, [.. summaries], balancers);
        }
    }

    /// <summary>One service's summary and endpoint rows, or null when the app does not resolve it (now).</summary>
    public (ServiceSummary Summary, EndpointRow[] Rows)? Detail(string key)
    {
        if (!Current().Balancers.TryGetValue(key, out ServiceBalancer? balancer))
        {
            return null;
        }
        BalancerDiagnostics view = balancer.GetDiagnostics();
        return (DashboardModel.Summarize(view, Picks), DashboardModel.Rows(view, Picks));
    }

    private void OnTick()
    {
        Picks.Sample();
        if (Interlocked.Increment(ref _ticks) % PruneEveryTicks == 0)
        {
            Picks.Prune(LiveEndpoints());
        }
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

    private void Notify()
    {
        Interlocked.Increment(ref _version);
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    // Under _gate: follow balancers the registry created since, forget those it released.
    private void Track()
    {
        if (_disposed)
        {
            return;
        }
        IReadOnlyCollection<ServiceBalancer> live = _registry.Balancers;
        var current = new HashSet<ServiceBalancer>(live, ReferenceEqualityComparer.Instance);
        foreach (ServiceBalancer gone in _tracked.Keys.Where(b => !current.Contains(b)).ToList())
        {
            _tracked.Remove(gone, out IDisposable? subscription);
            subscription!.Dispose();
        }
        foreach (ServiceBalancer balancer in live)
        {
            if (!_tracked.ContainsKey(balancer))
            {
                // A status-only change (a failing source keeping its endpoints) reaches the source's subscribers; a new
                // picker (endpoints, ejection, return) completes PickerChanged.
                _tracked.Add(balancer, balancer.Source.Subscribe(_ => Notify()));
                WatchPicker(balancer);
            }
        }
    }

    private void WatchPicker(ServiceBalancer balancer)
    {
        if (balancer.Stopped.IsCancellationRequested || _disposed)
        {
            return;
        }
        balancer.PickerChanged.ContinueWith(static (_, state) =>
        {
            (DashboardHub hub, ServiceBalancer balancer) = ((DashboardHub, ServiceBalancer))state!;
            hub.Notify();
            hub.WatchPicker(balancer);
        }, (this, balancer), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
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
            foreach (IDisposable subscription in _tracked.Values)
            {
                subscription.Dispose();
            }
            _tracked.Clear();
        }
        _timer.Dispose();
        Picks.Dispose();
    }

    /// <summary>The service list at one version.</summary>
    internal sealed record Frame(long Version, ServiceSummary[] Summaries, IReadOnlyDictionary<string, ServiceBalancer> Balancers);
}
