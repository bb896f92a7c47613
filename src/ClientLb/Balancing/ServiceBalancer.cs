using ClientLb.Balancing.Health;
using ClientLb.Balancing.Policies;
using ClientLb.Diagnostics;
using ClientLb.Eligibility;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;

namespace ClientLb.Balancing;

/// <summary>
/// Balances one service: follows its source and, on each change, has its parts decide in turn: which endpoints are
/// eligible and where traffic stays (<see cref="EligibleSetBuilder"/>), which of them passive health allows, and the
/// policy's immutable picker over those, which it swaps in. <see cref="Pick"/> reads one reference.
/// </summary>
public sealed partial class ServiceBalancer : IAsyncDisposable, IPassiveHealthHost
{
    private readonly Lock _rebuildGate = new();
    private readonly Func<ServiceName, BalancerSettings> _settings;
    private readonly ILogger _logger;
    private readonly ClientLbMetrics? _metrics;
    private readonly IDisposable _subscription;
    private readonly TimeProvider _timeProvider;
    private readonly PolicyContext _context;
    // Made when the token is first read (active health checks, probes): most balancers have nothing to stop with them.
    private CancellationTokenSource? _stopped;
    // The parts, each the one owner of its state; changed under _rebuildGate.
    private readonly EligibleSetBuilder _eligibility;
    private readonly EligibleEndpoints _endpoints;
    private readonly PassiveHealth _health;
    private readonly PickerBuilder _pickers;

    // Read lock-free on the request path.
    private EndpointPicker _picker;
    // Made when first read (most services are never waited on), completed and dropped by the next swap.
    private TaskCompletionSource? _pickerChanged;
    private bool _ready;
    // Completed once a picker built from the source's first answer (endpoints or an initial failure) is in place; then
    // null, so a ready service keeps no task.
    private TaskCompletionSource? _firstPickerBuilt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    // The snapshot version the picker reflects, and the source's session affinity the settings were last read with (a
    // change needs the full rebuild).
    private long _builtVersion;
    private TimeSpan? _appliedAffinity;
    private EndpointSelection? _selectionView;
    private long _deltaRebuilds, _fullRebuilds;

    internal ServiceBalancer(ServiceName service, IEndpointSource source, Func<ServiceName, BalancerSettings> settings, ILogger logger, TimeProvider timeProvider, ClientLbMetrics? metrics = null)
    {
        _timeProvider = timeProvider;
        Service = service;
        Source = source;
        _settings = settings;
        _logger = logger;
        _metrics = metrics;
        _context = new PolicyContext(service.Id, timeProvider: timeProvider);
        _eligibility = new EligibleSetBuilder(service.Schemes);
        _health = new PassiveHealth(service.Id, _rebuildGate, this, logger, metrics, timeProvider, _context.Options);
        _endpoints = new EligibleEndpoints(service.Id, _health);
        _pickers = new PickerBuilder(_eligibility, _health, _context, logger);
        RetryBudget = new RetryBudget(_context.Options.RetryBudget, timeProvider);
        _picker = new FailingPicker(new NoEndpointsException(source.Service, source.Description, "the source has not answered yet"));
        _subscription = source.Subscribe(_ => OnSourceChanged());
        source.Start();
        Rebuild();
    }

    /// <summary>The service, with the scheme preference of the URI that asked for it.</summary>
    public ServiceName Service { get; }

    /// <summary>The source it follows (shared with every other balancer of the same service).</summary>
    public IEndpointSource Source { get; }

    /// <summary>
    /// Cancelled when the balancer is disposed: the registry released it (no lease for the idle-service timeout) or was
    /// disposed. Whatever runs per service beside it (active health checks) stops with it.
    /// </summary>
    public CancellationToken Stopped => (Volatile.Read(ref _stopped) ?? CreateStopped()).Token;

    private CancellationTokenSource CreateStopped()
    {
        var created = new CancellationTokenSource();
        CancellationTokenSource stopped = Interlocked.CompareExchange(ref _stopped, created, null) ?? created;
        if (Volatile.Read(ref _disposed) != 0)
        {
            stopped.Cancel(); // read after DisposeAsync, which may not have seen it
        }
        return stopped;
    }

    /// <summary>The current picker.</summary>
    public EndpointPicker Picker => Volatile.Read(ref _picker);

    /// <summary>
    /// Whether the current picker has an endpoint other than <paramref name="failed"/> (which may have just been ejected
    /// by its own failure): whether a retry has somewhere else to go.
    /// </summary>
    public bool HasOtherEndpoint(BalancedEndpoint failed)
    {
        IReadOnlyList<BalancedEndpoint> endpoints = Picker.Endpoints;
        return endpoints.Count > 1 || (endpoints.Count == 1 && !ReferenceEquals(endpoints[0], failed));
    }

    /// <summary>
    /// Completes when the next picker is swapped in: endpoints came or went, one was ejected or returned. A caller that
    /// waits for an endpoint (gRPC wait-for-ready) takes this before it picks, then waits on it.
    /// </summary>
    public Task PickerChanged => (Volatile.Read(ref _pickerChanged) ?? NextPickerChange()).Task;

    private TaskCompletionSource NextPickerChange()
    {
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return Interlocked.CompareExchange(ref _pickerChanged, next, null) ?? next;
    }

    /// <summary>How many endpoints the current picker chooses from (eligible, healthy and local enough).</summary>
    public int EligibleCount => Picker.Endpoints.Count;

    /// <summary>The current eligibility decision, or null before the first snapshot.</summary>
    public EndpointSelection? Selection
    {
        get
        {
            lock (_rebuildGate)
            {
                // Built on demand: the request path never needs the list, and a delta rebuild should not pay for it.
                return _builtVersion == 0 ? null
                    : _selectionView ??= new EndpointSelection([.. _endpoints.Array.Select(e => e.Endpoint)], _eligibility.Kind, _eligibility.Total,
                        _eligibility.Ready, _eligibility.ServingTerminating);
            }
        }
    }

    /// <summary>The service's options in effect (its configuration entry, or defaults).</summary>
    public ServiceOptions Options => _context.Options;

    /// <summary>The retry budget shared by every request to this service.</summary>
    public RetryBudget RetryBudget { get; }

    /// <summary>True while too few endpoints are healthy and every eligible endpoint is used regardless (panic threshold).</summary>
    public bool InPanic => _health.InPanic;

    /// <summary>Where traffic is kept: EndpointSlice hints, the opt-in location preference, or <see cref="TopologyLevel.Any"/>.</summary>
    public TopologyLevel TopologyLevel => _pickers.Level;

    /// <summary>
    /// How ejected endpoints are asked whether they serve again; null (the default) probes only endpoints ejected for
    /// connection failures, with a TCP connect. An integration with a health protocol installs its own (ClientLb.Grpc:
    /// grpc.health.v1 Check, where active checks are configured), which also probes endpoints ejected for server errors.
    /// </summary>
    public EndpointProber? Prober
    {
        get => _health.Prober;
        set => _health.Prober = value;
    }

    /// <summary>Every endpoint the balancer tracks, ejected ones included.</summary>
    public IReadOnlyList<BalancedEndpoint> KnownEndpoints
    {
        get
        {
            lock (_rebuildGate)
            {
                return _endpoints.All;
            }
        }
    }

    /// <summary>How many source changes were applied as a delta, and how many needed the full rebuild (tests, diagnostics).</summary>
    internal (long Delta, long Full) RebuildCounts
    {
        get
        {
            lock (_rebuildGate)
            {
                return (_deltaRebuilds, _fullRebuilds);
            }
        }
    }

    /// <summary>Picks an endpoint. Throws <see cref="NoEndpointsException"/> at once when none is eligible.</summary>
    public BalancedEndpoint Pick(in PickContext context) => Volatile.Read(ref _picker).Pick(context);

    /// <summary>
    /// Completes when the source has answered once (at once after that), so a first request does not fail
    /// merely because discovery is still starting. Bounded by <paramref name="timeout"/>.
    /// </summary>
    public ValueTask EnsureReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        return Volatile.Read(ref _ready) ? ValueTask.CompletedTask : WaitAsync(timeout, cancellationToken);
    }

    private async ValueTask WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Source.GetSnapshotAsync(cancellationToken).AsTask().WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            // The source may hand out its snapshot a moment before this balancer's rebuild (on the source's thread)
            // has swapped in the picker built from it: wait for that picker too, or a first request could still
            // meet the "not answered yet" one.
            await (Volatile.Read(ref _firstPickerBuilt)?.Task ?? Task.CompletedTask).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new NoEndpointsException(Service, Source.Description, $"the source gave no answer within {timeout.TotalSeconds:0.###} s", ex);
        }
        catch (EndpointSourceException ex)
        {
            throw new NoEndpointsException(Service, Source.Description, "the source failed before its first answer: " + (ex.InnerException?.Message ?? ex.Message), ex);
        }
        Volatile.Write(ref _ready, true);
    }

    /// <summary>Marks the start of an attempt and returns its timestamp (see <see cref="PassiveHealth.OnAttemptStart"/>).</summary>
    internal long OnAttemptStart() => _health.OnAttemptStart(_timeProvider.GetTimestamp());

    /// <summary>As <see cref="OnAttemptStart()"/>, at <paramref name="now"/> (a timestamp the caller just took).</summary>
    internal long OnAttemptStart(long now) => _health.OnAttemptStart(now);

    /// <summary>Records an attempt's outcome for latency and passive health (see <see cref="PassiveHealth.OnAttemptEnd"/>).</summary>
    internal void OnAttemptEnd(BalancedEndpoint endpoint, long start, AttemptOutcome outcome) => _health.OnAttemptEnd(endpoint, start, outcome);

    BalancedEndpoint[] IPassiveHealthHost.Eligible => _endpoints.Array;

    void IPassiveHealthHost.RebuildPicker(long now) => BuildPicker(now);

    /// <summary>
    /// Stops following the source (the registry disposes it once no balancer follows it) and closes idle connections;
    /// requests in flight finish on their endpoints. The registry calls it when it releases the balancer; a second call does nothing.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return ValueTask.CompletedTask;
        }
        Volatile.Read(ref _stopped)?.Cancel();
        _subscription.Dispose();
        lock (_rebuildGate)
        {
            _endpoints.RetireAll();
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Service} via {Source.Description}: {EligibleCount} eligible";
}
