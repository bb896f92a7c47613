using System.Diagnostics.Metrics;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Diagnostics;
using ClientLb.Names;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ClientLb.Registry;

/// <summary>
/// The one registry of a process: maps a service to its live balancer. Every HttpClient, gRPC channel or CLI command
/// asking for the same service shares one source, one watch or refresh loop. Clients hold a
/// <see cref="ServiceBalancerLease"/> on each service they use (<see cref="AcquireBalancer(ServiceName)"/>); when the
/// last lease of a balancer ends, the balancer stays for <see cref="ClientLbOptions.IdleServiceTimeout"/> and is then
/// disposed, and with the last balancer of a source the source goes too, which stops its watch.
/// </summary>
public sealed class ServiceRegistry : IAsyncDisposable
{
    // Acquire, release and idle expiry take this lock: none is on the request path (a lookup's cache hit and Pick
    // never come here). It makes "last lease gone and timer expired" and "new lease" one decision, so an acquire
    // never gets a balancer that is being disposed.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, BalancerEntry> _balancers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourceEntry> _sources = new(StringComparer.Ordinal);
    // Disposals of released services still running, so DisposeAsync can wait for them.
    private readonly List<Task> _releasing = [];
    private readonly ServiceBuilder _builder;
    private readonly IOptionsMonitor<ClientLbOptions> _options;
    private readonly ILogger _logger;
    private readonly IDisposable? _onOptionsChange;
    private TimeSpan _idleServiceTimeout = new ClientLbOptions().IdleServiceTimeout;
    private bool _disposed;

    /// <summary>Creates the registry (normally through <c>services.AddClientLb()</c>).</summary>
    public ServiceRegistry(IEnumerable<IEndpointSourceFactory> factories, IEnumerable<ILoadBalancingPolicy> policies,
        IOptionsMonitor<ClientLbOptions> options, ServiceNameDefaults defaults, ClientLbMetrics metrics, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _options = options;
        Defaults = defaults;
        Metrics = metrics;
        TimeProvider = timeProvider ?? TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger("ClientLb");
        _builder = new ServiceBuilder(factories, policies, options, defaults, metrics, loggerFactory, TimeProvider);
        // A policy change in configuration rebuilds pickers (endpoint changes arrive through the sources).
        _onOptionsChange = options.OnChange(_ =>
        {
            foreach (ServiceBalancer balancer in Balancers)
            {
                balancer.Rebuild();
            }
        });
        metrics.ObserveEndpoints(ObserveEndpoints);
        metrics.ObserveEndpointStates(() => Balancers.SelectMany(b => b.KnownEndpoints), TimeProvider);
    }

    /// <summary>How short names expand.</summary>
    public ServiceNameDefaults Defaults { get; }

    /// <summary>The clock for staleness, timeouts and the idle-service timeout.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The metrics instruments.</summary>
    public ClientLbMetrics Metrics { get; }

    /// <summary>The options.</summary>
    public ClientLbOptions Options => _options.CurrentValue;

    /// <summary>The live balancers: leased, pinned by <see cref="GetBalancer(ServiceName)"/>, or idle but not yet released.</summary>
    public IReadOnlyCollection<ServiceBalancer> Balancers
    {
        get
        {
            lock (_gate)
            {
                return [.. _balancers.Values.Select(e => e.Balancer)];
            }
        }
    }

    /// <summary>Parses <paramref name="name"/> with this registry's defaults and leases its balancer.</summary>
    /// <exception cref="ServiceNotFoundException">No source serves the service.</exception>
    public ServiceBalancerLease AcquireBalancer(string name) => AcquireBalancer(ServiceName.Parse(name, Defaults));

    /// <summary>
    /// Leases the balancer of <paramref name="service"/>, creating it (and its source, unless another scheme preference
    /// of the same service already has one) on first use. Dispose the lease when done: the balancer lives while any lease
    /// does, and for <see cref="ClientLbOptions.IdleServiceTimeout"/> after the last one ends; acquiring it again within
    /// that time returns the same balancer, with its endpoint health and connections.
    /// </summary>
    /// <exception cref="ServiceNotFoundException">No source serves the service.</exception>
    /// <exception cref="ObjectDisposedException">The registry is disposed.</exception>
    public ServiceBalancerLease AcquireBalancer(ServiceName service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            BalancerEntry entry = GetOrCreate(service);
            entry.Leases++;
            entry.CancelLinger();
            return new ServiceBalancerLease(this, entry);
        }
    }

    /// <summary>Parses <paramref name="name"/> with this registry's defaults and returns its balancer, pinned (see <see cref="GetBalancer(ServiceName)"/>).</summary>
    public ServiceBalancer GetBalancer(string name) => GetBalancer(ServiceName.Parse(name, Defaults));

    /// <summary>
    /// Returns the balancer of <paramref name="service"/>, creating it (and its source) on first use, without a lease:
    /// the balancer is pinned instead, kept until the registry is disposed, so the reference stays valid however long the
    /// caller keeps it. Meant for process-lifetime use and inspection (tests, benchmarks, diagnostics); clients that come
    /// and go use <see cref="AcquireBalancer(ServiceName)"/>, so a service nobody uses any more stops being watched.
    /// </summary>
    /// <exception cref="ServiceNotFoundException">No source serves the service.</exception>
    /// <exception cref="ObjectDisposedException">The registry is disposed.</exception>
    public ServiceBalancer GetBalancer(ServiceName service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            BalancerEntry entry = GetOrCreate(service);
            entry.Pinned = true;
            entry.CancelLinger();
            return entry.Balancer;
        }
    }

    // Under _gate. One source per service (name, namespace, port selector); one balancer per source and scheme
    // preference. A failure caches nothing: configuration may be fixed and the next call should see it.
    private BalancerEntry GetOrCreate(ServiceName service)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string key = service.Schemes.Count == 0 ? service.Id : service.Id + "|" + string.Join('+', service.Schemes);
        if (_balancers.TryGetValue(key, out BalancerEntry? existing))
        {
            return existing;
        }
        bool newSource = !_sources.TryGetValue(service.Id, out SourceEntry? source);
        source ??= new SourceEntry(_builder.CreateSource(service));
        ServiceBalancer balancer;
        try
        {
            balancer = _builder.CreateBalancer(service, source.Source);
        }
        catch
        {
            if (newSource)
            {
                _ = DisposeSourceAsync(source.Source);
            }
            throw;
        }
        if (newSource)
        {
            _sources.Add(service.Id, source);
        }
        source.Balancers++;
        var entry = new BalancerEntry(key, balancer, source);
        _balancers.Add(key, entry);
        return entry;
    }

    // Called once per lease. The last lease starts the linger; zero releases at once.
    internal void Release(BalancerEntry entry)
    {
        PendingRelease? release = null;
        lock (_gate)
        {
            if (--entry.Leases > 0 || entry.Pinned || entry.Removed)
            {
                return;
            }
            TimeSpan idle = IdleServiceTimeout();
            if (idle == TimeSpan.Zero)
            {
                release = Remove(entry, idle);
            }
            else
            {
                int version = entry.LingerVersion;
                entry.Linger = TimeProvider.CreateTimer(static state =>
                {
                    (ServiceRegistry registry, BalancerEntry expired, int version, TimeSpan idle) = ((ServiceRegistry, BalancerEntry, int, TimeSpan))state!;
                    registry.OnIdle(expired, version, idle);
                }, (this, entry, version, idle), idle, Timeout.InfiniteTimeSpan);
            }
        }
        release?.Start();
    }

    // The linger timer fired. A lease taken since (or a pin, or the registry's disposal) changed the version or the
    // state, and wins: the same lock decided it, so the balancer it got is not disposed.
    private void OnIdle(BalancerEntry entry, int version, TimeSpan idle)
    {
        PendingRelease release;
        lock (_gate)
        {
            if (entry.LingerVersion != version || entry.Leases > 0 || entry.Pinned || entry.Removed)
            {
                return;
            }
            entry.CancelLinger();
            release = Remove(entry, idle);
        }
        release.Start();
    }

    // Under _gate: forget the balancer now (a later acquire creates a new one) and its source if no other balancer
    // follows it. The caller disposes them once off the lock; DisposeAsync already waits for that.
    private PendingRelease Remove(BalancerEntry entry, TimeSpan idle)
    {
        entry.Removed = true;
        _balancers.Remove(entry.Key);
        SourceEntry source = entry.Source;
        bool lastOfSource = --source.Balancers == 0;
        if (lastOfSource)
        {
            _sources.Remove(entry.Balancer.Service.Id);
        }
        var release = new PendingRelease(this, entry.Balancer, lastOfSource ? source.Source : null, idle);
        _releasing.RemoveAll(static t => t.IsCompleted);
        _releasing.Add(release.Completion);
        return release;
    }

    private async Task DisposeSourceAsync(IEndpointSource source)
    {
        try
        {
            await source.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Nobody awaits a release: a failing dispose is reported, not lost as an unobserved exception.
            Log.SourceDisposeFailed(_logger, source.Service.Id, source.Description, ex);
        }
    }

    // Read at each release, so a reload applies to the next idle service; an invalid reload keeps the last good value
    // (a lease's Dispose must not throw a configuration error).
    private TimeSpan IdleServiceTimeout()
    {
        try
        {
            return _idleServiceTimeout = _options.CurrentValue.IdleServiceTimeout;
        }
        catch (OptionsValidationException)
        {
            return _idleServiceTimeout;
        }
    }

    private IEnumerable<Measurement<int>> ObserveEndpoints()
    {
        foreach (ServiceBalancer balancer in Balancers)
        {
            var service = new KeyValuePair<string, object?>("clientlb.service", balancer.Service.Id);
            yield return new Measurement<int>(balancer.EligibleCount, service, new("clientlb.state", "eligible"));
            yield return new Measurement<int>(balancer.Source.Current?.Endpoints.Length ?? 0, service, new("clientlb.state", "known"));
        }
    }

    /// <summary>Stops every balancer and source, leased or not; leases released afterwards do nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        BalancerEntry[] balancers;
        SourceEntry[] sources;
        Task[] releasing;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            balancers = [.. _balancers.Values];
            sources = [.. _sources.Values];
            releasing = [.. _releasing];
            foreach (BalancerEntry entry in balancers)
            {
                entry.CancelLinger();
                entry.Removed = true;
            }
            _balancers.Clear();
            _sources.Clear();
            _releasing.Clear();
        }
        _onOptionsChange?.Dispose();
        await Task.WhenAll(releasing).ConfigureAwait(false);
        foreach (BalancerEntry entry in balancers)
        {
            await entry.Balancer.DisposeAsync().ConfigureAwait(false);
        }
        foreach (SourceEntry source in sources)
        {
            await source.Source.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A released balancer (and maybe its source) to dispose, started by whoever released it once off the lock.</summary>
    private sealed class PendingRelease(ServiceRegistry registry, ServiceBalancer balancer, IEndpointSource? source, TimeSpan idle)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Completion => _done.Task;

        // Runs inline up to the first real wait: a source whose dispose completes synchronously is gone when the release
        // (a lease's Dispose, or the timer callback) returns.
        public void Start() => _ = RunAsync();

        private async Task RunAsync()
        {
            try
            {
                await balancer.DisposeAsync().ConfigureAwait(false);
                if (source is not null)
                {
                    await registry.DisposeSourceAsync(source).ConfigureAwait(false);
                }
                Log.ServiceReleased(registry._logger, balancer.Service.Id, balancer.Service.Schemes.Count == 0 ? "any" : string.Join('+', balancer.Service.Schemes),
                    idle, source is null ? "kept for another scheme preference" : "stopped");
            }
            finally
            {
                _done.TrySetResult();
            }
        }
    }

    /// <summary>A balancer and who holds it. Mutated under the registry's lock only.</summary>
    internal sealed class BalancerEntry(string key, ServiceBalancer balancer, SourceEntry source)
    {
        public string Key { get; } = key;

        public ServiceBalancer Balancer { get; } = balancer;

        /// <summary>The balancer's hold on its source: the source lives while any balancer entry refers to it.</summary>
        public SourceEntry Source { get; } = source;

        public int Leases { get; set; }

        /// <summary>Held by <see cref="GetBalancer(ServiceName)"/> callers: never released before the registry.</summary>
        public bool Pinned { get; set; }

        /// <summary>Set once the registry forgot the entry; its balancer is (being) disposed.</summary>
        public bool Removed { get; set; }

        public ITimer? Linger { get; set; }

        /// <summary>Changes whenever a linger is cancelled, so a timer callback already running knows it lost.</summary>
        public int LingerVersion { get; private set; }

        public void CancelLinger()
        {
            if (Linger is not null)
            {
                Linger.Dispose();
                Linger = null;
            }
            LingerVersion++;
        }
    }

    /// <summary>A source and how many balancers (scheme preferences) follow it.</summary>
    internal sealed class SourceEntry(IEndpointSource source)
    {
        public IEndpointSource Source { get; } = source;

        public int Balancers { get; set; }
    }
}
