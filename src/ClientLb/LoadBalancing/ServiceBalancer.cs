using System.Collections.Immutable;
using ClientLb.Diagnostics;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;

namespace ClientLb.LoadBalancing;

/// <summary>
/// Balances one service: follows its source, decides which endpoints are eligible (<see cref="EndpointSelector"/>),
/// applies passive health (ejection, panic threshold, slow start) and topology preference, builds an immutable picker
/// with the service's policy and swaps it in. <see cref="Pick"/> reads one reference.
/// </summary>
public sealed partial class ServiceBalancer : IAsyncDisposable
{
    private readonly Lock _rebuildGate = new();
    private readonly Func<BalancerSettings> _settings;
    private readonly ILogger _logger;
    private readonly ClientLbMetrics? _metrics;
    private readonly IDisposable _subscription;
    // By host and port (Endpoint.AddressComparer): no endpoint text is made to hold it.
    private readonly Dictionary<Endpoint, BalancedEndpoint> _byAuthority = new(Endpoint.AddressComparer);
    private readonly TimeProvider _timeProvider;
    private readonly PolicyContext _context;
    private EndpointPicker _picker;
    private TaskCompletionSource _pickerChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _ready;
    // Completed once a picker built from the source's first answer (endpoints or an initial failure) is in place.
    private readonly TaskCompletionSource _firstPickerBuilt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopped = new();
    private int _disposed;

    // Written under _rebuildGate; read lock-free on the request path.
    private BalancedEndpoint[] _eligible = [];
    private ILoadBalancingPolicy? _policy;
    private HealthSettings _health;
    private long _deadline = long.MaxValue;
    private bool _resolvedOnce;
    private bool _inPanic;
    private int _topologyLevel = (int)TopologyLevel.Any;

    // The eligibility decision the picker reflects, kept as counts so a change can be applied without a full pass.
    private long _builtVersion;
    private bool _schemeSensitive;
    private EndpointSelectionKind _selectionKind;
    private int _total, _readyCount, _servingTerminating;
    private int _ejectedCount;
    // Eligible endpoints the picker must skip (ejected or failing active health checks); zero allows the fast picker.
    private int _unhealthyCount;
    // Topology counts over the eligible set, so the level is known without a pass (while nothing is unhealthy):
    // ready endpoints without node / zone hints (while one exists kube-proxy's hint rule cannot apply), ready ones
    // hinted for this node / zone, and endpoints running on this node / in this zone.
    private int _missingNodeHints, _missingZoneHints, _hintedNode, _hintedZone, _inNode, _inZone;
    // The endpoints of the current topology level when it narrows traffic (each knows its LocalSlot); null for all.
    private BalancedEndpoint[]? _candidates;
    private EndpointSelection? _selectionView;
    // The source's session affinity the settings were last read with: a change needs the full rebuild.
    private TimeSpan? _appliedAffinity;
    private long _deltaRebuilds, _fullRebuilds;

    internal ServiceBalancer(ServiceName service, IEndpointSource source, Func<BalancerSettings> settings, ILogger logger, TimeProvider timeProvider, ClientLbMetrics? metrics = null)
    {
        _timeProvider = timeProvider;
        Service = service;
        Source = source;
        _settings = settings;
        _logger = logger;
        _metrics = metrics;
        _context = new PolicyContext(service.Id, timeProvider: timeProvider);
        _health = HealthSettings.From(_context.Options, timeProvider);
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
    public CancellationToken Stopped => _stopped.Token;

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
    public Task PickerChanged => Volatile.Read(ref _pickerChanged).Task;

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
                    : _selectionView ??= new EndpointSelection([.. _eligible.Select(e => e.Endpoint)], _selectionKind, _total, _readyCount, _servingTerminating);
            }
        }
    }

    /// <summary>The service's options in effect (its configuration entry, or defaults).</summary>
    public ServiceOptions Options => _context.Options;

    /// <summary>The retry budget shared by every request to this service.</summary>
    public RetryBudget RetryBudget { get; }

    /// <summary>True while too few endpoints are healthy and every eligible endpoint is used regardless (panic threshold).</summary>
    public bool InPanic => Volatile.Read(ref _inPanic);

    /// <summary>Where traffic is kept: EndpointSlice hints, the opt-in location preference, or <see cref="TopologyLevel.Any"/>.</summary>
    public TopologyLevel TopologyLevel => (TopologyLevel)Volatile.Read(ref _topologyLevel);

    /// <summary>Every endpoint the balancer tracks, ejected ones included.</summary>
    public IReadOnlyList<BalancedEndpoint> KnownEndpoints
    {
        get
        {
            lock (_rebuildGate)
            {
                return [.. _byAuthority.Values];
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
            await _firstPickerBuilt.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// Marks the start of an attempt and returns its timestamp. Ejections and slow-start windows end here, on the
    /// request path, when their deadline has passed: no timers, and one comparison when nothing is due.
    /// </summary>
    internal long OnAttemptStart() => OnAttemptStart(_timeProvider.GetTimestamp());

    /// <summary>As <see cref="OnAttemptStart()"/>, at <paramref name="now"/> (a timestamp the caller just took).</summary>
    internal long OnAttemptStart(long now)
    {
        if (now >= Volatile.Read(ref _deadline))
        {
            OnDeadline(now);
        }
        return now;
    }

    /// <summary>
    /// Records an attempt's outcome: latency for PeakEwma, and failures in a row for passive health. The clock is read
    /// only for a latency or an ejection: an untimed success (a grpc-dotnet call tracker's) costs no clock read.
    /// </summary>
    internal void OnAttemptEnd(BalancedEndpoint endpoint, long start, AttemptOutcome outcome)
    {
        HealthSettings health = Volatile.Read(ref _health);
        if (outcome is AttemptOutcome.Answered or AttemptOutcome.ServerUnavailable && start >= 0)
        {
            long now = _timeProvider.GetTimestamp();
            // Only answers carry latency: a refused connection fails fast and must not look like a fast endpoint.
            endpoint.RecordLatency(now, now - start, health.DecayTicks);
            _metrics?.AttemptDuration(endpoint, (double)(now - start) / _timeProvider.TimestampFrequency);
        }
        // The caller's own cancellation never gets here (see AttemptFailure); a closed pool means the endpoint left.
        if (!health.Enabled || outcome == AttemptOutcome.EndpointLeft)
        {
            return;
        }
        if (outcome is AttemptOutcome.ConnectionFailed or AttemptOutcome.TransportFailed)
        {
            if (health.ConnectionFailures > 0 && endpoint.CountConnectionFailure() >= health.ConnectionFailures)
            {
                TryEject(endpoint, _timeProvider.GetTimestamp(), health, "connection_failures");
            }
        }
        else if (outcome == AttemptOutcome.ServerUnavailable)
        {
            if (health.ServerErrors > 0 && endpoint.CountServerError() >= health.ServerErrors)
            {
                TryEject(endpoint, _timeProvider.GetTimestamp(), health, "server_errors");
            }
        }
        else
        {
            endpoint.CountSuccess();
        }
    }

    private void TryEject(BalancedEndpoint endpoint, long now, HealthSettings health, string reason)
    {
        lock (_rebuildGate)
        {
            BalancedEndpoint[] eligible = _eligible;
            if (endpoint.IsEjected || endpoint.IsRetired || !IsIn(eligible, endpoint))
            {
                return;
            }
            int ejected = _ejectedCount;
            int allowed = health.MaxEjectedShare <= 0 ? 0 : Math.Max(1, (int)(health.MaxEjectedShare * eligible.Length));
            if (ejected >= allowed)
            {
                Log.EjectionLimited(_logger, Service.Id, endpoint.Endpoint.Authority, reason, ejected, eligible.Length);
                return;
            }
            // An endpoint healthy for longer than the longest ejection since its last return starts over at the base time.
            if (endpoint.Ejections > 0 && now - endpoint.ReturnedAt > health.MaxEjectionTicks)
            {
                endpoint.Ejections = 0;
            }
            endpoint.Ejections++;
            double ticks = Math.Min(health.BaseEjectionTicks * Math.Pow(2, endpoint.Ejections - 1), health.MaxEjectionTicks);
            bool wasHealthy = endpoint.IsHealthy;
            endpoint.EjectionReason = reason;
            endpoint.Eject(now + (long)ticks);
            _ejectedCount++;
            _unhealthyCount += wasHealthy ? 1 : 0;
            TimeSpan duration = TimeSpan.FromSeconds(ticks / _timeProvider.TimestampFrequency);
            Log.EndpointEjected(_logger, Service.Id, endpoint.Endpoint.Authority, reason, duration, endpoint.Ejections);
            _metrics?.Ejected(endpoint, reason);
            BuildPicker(now);
            StartProbing(endpoint, health, reason);
        }
    }

    private void OnDeadline(long now)
    {
        lock (_rebuildGate)
        {
            if (now < _deadline)
            {
                return;
            }
            HealthSettings health = _health;
            foreach (BalancedEndpoint endpoint in _eligible)
            {
                long until = endpoint.EjectedUntil;
                if (until != 0 && until <= now)
                {
                    ReturnEndpoint(endpoint, now, health);
                }
            }
            BuildPicker(now);
        }
    }

    private static bool IsIn(BalancedEndpoint[] eligible, BalancedEndpoint endpoint) =>
        (uint)endpoint.Slot < (uint)eligible.Length && ReferenceEquals(eligible[endpoint.Slot], endpoint);

    private void ReturnEndpoint(BalancedEndpoint endpoint, long now, HealthSettings health)
    {
        endpoint.Return(now);
        _ejectedCount--;
        _unhealthyCount -= endpoint.IsHealthy ? 1 : 0;
        if (health.SlowStartTicks > 0)
        {
            endpoint.StartWarming(now, health.SlowStartTicks);
        }
        Log.EndpointReturned(_logger, Service.Id, endpoint.Endpoint.Authority);
        _metrics?.Returned(endpoint);
    }

    /// <summary>Rebuilds everything from the source's current snapshot and the configuration (also when the policy configuration changed).</summary>
    internal void Rebuild()
    {
        lock (_rebuildGate)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                RebuildLocked();
            }
        }
    }

    /// <summary>
    /// The source published: a snapshot that says what changed since the one the picker was built from is applied as a
    /// delta (O(changed) plus array copies); anything else (first snapshot, missed version, failure, eligibility rule
    /// flipping) goes through the full rebuild.
    /// </summary>
    private void OnSourceChanged()
    {
        lock (_rebuildGate)
        {
            // A notification or options change that raced with DisposeAsync must not bring endpoints back.
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }
            EndpointSnapshot? snapshot = Source.Current;
            SourceStatus status = Source.Status;
            if (snapshot is not null && _policy is not null && SourceAffinity == _appliedAffinity)
            {
                if (snapshot.Version == _builtVersion)
                {
                    // Only the status moved (a failure while the last good endpoints stay, or the recovery): the
                    // picker already reflects this snapshot.
                    LogFailing(snapshot, status);
                    return;
                }
                if (snapshot is { Changes: EndpointChanges changes } && snapshot.Version == _builtVersion + 1 && status.LastError is null
                    && TryApplyLocked(snapshot, changes))
                {
                    return;
                }
            }
            RebuildLocked();
        }
    }

    private void LogFailing(EndpointSnapshot snapshot, SourceStatus status)
    {
        if (status.LastError is Exception error)
        {
            Log.SourceFailing(_logger, Service.Id, Source.Description, status.ConsecutiveFailures, snapshot.Version,
                status.Staleness(_timeProvider.GetUtcNow()), error);
        }
    }

    private void RebuildLocked()
    {
        EndpointSnapshot? snapshot = Source.Current;
        SourceStatus status = Source.Status;
        if (snapshot is null)
        {
            if (status.LastError is Exception initial)
            {
                Log.SourceFailedInitially(_logger, Service.Id, Source.Description, initial);
                Publish(new FailingPicker(new NoEndpointsException(Service, Source.Description,
                    "the source failed before its first answer: " + initial.Message, initial)));
                _firstPickerBuilt.TrySetResult();
            }
            return;
        }
        LogFailing(snapshot, status);

        try
        {
            _appliedAffinity = SourceAffinity;
            BalancerSettings settings = _settings().WithSourceAffinity(Source);
            _policy = settings.Policy;
            _context.Update(settings.Options, settings.Locality);
            Volatile.Write(ref _health, HealthSettings.From(settings.Options, _timeProvider));
            RetryBudget.Configure(settings.Options.RetryBudget);
        }
        catch (Exception ex) when (ex is Microsoft.Extensions.Options.OptionsValidationException or Configuration.ClientLbConfigurationException)
        {
            // Invalid policy configuration: keep balancing with the last good settings rather than stop serving.
            Log.PolicyInvalid(_logger, Service.Id, ex);
            if (_policy is null)
            {
                Publish(new FailingPicker(new NoEndpointsException(Service, Source.Description, "the balancing policy configuration is invalid: " + ex.Message, ex)));
                _firstPickerBuilt.TrySetResult();
                return;
            }
        }

        _fullRebuilds++;
        long now = _timeProvider.GetTimestamp();
        HealthSettings health = _health;
        ImmutableArray<Endpoint> filtered = SchemeFilter.Apply(snapshot.Endpoints, Service.Schemes);
        EndpointSelection selection = EndpointSelector.Select(filtered);
        var eligible = new BalancedEndpoint[selection.Eligible.Length];
        var seen = new HashSet<Endpoint>(Endpoint.AddressComparer);
        _byAuthority.EnsureCapacity(eligible.Length); // one allocation of the right size rather than growth by doubling
        int ejected = 0, unhealthy = 0;
        _missingNodeHints = _missingZoneHints = _hintedNode = _hintedZone = _inNode = _inZone = 0;
        for (int i = 0; i < eligible.Length; i++)
        {
            Endpoint endpoint = selection.Eligible[i];
            if (!_byAuthority.TryGetValue(endpoint, out BalancedEndpoint? balanced) || balanced.IsRetired)
            {
                balanced = Join(endpoint, now, health);
            }
            else
            {
                Rekey(balanced, endpoint);
            }
            if (!health.Enabled && balanced.IsEjected)
            {
                ReturnEndpoint(balanced, now, health);
            }
            ejected += balanced.IsEjected ? 1 : 0;
            unhealthy += balanced.IsHealthy ? 0 : 1;
            CountTopology(endpoint, 1);
            balanced.Slot = i;
            seen.Add(endpoint);
            eligible[i] = balanced;
        }
        _resolvedOnce = true;
        _eligible = eligible;
        _ejectedCount = ejected;
        _unhealthyCount = unhealthy;
        _builtVersion = snapshot.Version;
        _schemeSensitive = Service.Schemes.Count > 0 && snapshot.Endpoints.Any(static e => e.Scheme is not null);
        SetSelection(selection.Kind, selection.Total, selection.Ready, selection.ServingTerminating);
        BuildPicker(now);
        _firstPickerBuilt.TrySetResult();
        LogPicker(snapshot);

        // Endpoints that left: retire after the swap, so their connections close once in-flight requests end.
        // (The counts above already exclude them.)
        foreach (Endpoint key in _byAuthority.Keys.Where(a => !seen.Contains(a)).ToList())
        {
            _byAuthority.Remove(key, out BalancedEndpoint? gone);
            gone!.Slot = -1;
            gone.Retire();
        }
    }

    /// <summary>
    /// Points <paramref name="balanced"/> at <paramref name="endpoint"/> (the same host and port, other conditions) and keys
    /// the index by the new object, so the replaced endpoint is not kept alive by the key.
    /// </summary>
    private void Rekey(BalancedEndpoint balanced, Endpoint endpoint)
    {
        if (!ReferenceEquals(balanced.Endpoint, endpoint))
        {
            _byAuthority.Remove(endpoint);
            _byAuthority.Add(endpoint, balanced);
            balanced.Update(endpoint);
        }
    }

    private BalancedEndpoint Join(Endpoint endpoint, long now, HealthSettings health)
    {
        var balanced = new BalancedEndpoint(endpoint, Service.Id);
        _byAuthority.Remove(endpoint); // a retired one of the same host and port, keyed by its own (older) object
        _byAuthority.Add(endpoint, balanced);
        // Endpoints of the first answer start at full share; later arrivals ramp up (slow start).
        if (_resolvedOnce && health.SlowStartTicks > 0)
        {
            balanced.StartWarming(now, health.SlowStartTicks);
        }
        return balanced;
    }

    private void Leave(BalancedEndpoint gone)
    {
        if (gone.IsEjected)
        {
            _ejectedCount--;
        }
        if (!gone.IsHealthy)
        {
            _unhealthyCount--;
        }
        gone.Slot = -1;
        gone.Retire();
    }

    private TimeSpan? SourceAffinity => (Source as ISessionAffinitySource)?.ClientIpAffinityTimeout;

    private void SetSelection(EndpointSelectionKind kind, int total, int ready, int servingTerminating)
    {
        _selectionKind = kind;
        _total = total;
        _readyCount = ready;
        _servingTerminating = servingTerminating;
        _selectionView = null;
    }

    private string EmptyReason => new EndpointSelection([], _selectionKind, _total, _readyCount, _servingTerminating).EmptyReason ?? "no eligible endpoints";

    private void LogPicker(EndpointSnapshot snapshot)
    {
        int eligible = _eligible.Length;
        if (eligible == 0)
        {
            Log.NoEndpoints(_logger, Service.Id, EmptyReason);
        }
        else
        {
            Log.PickerUpdated(_logger, Service.Id, eligible, snapshot.Endpoints.Length, Source.Description, snapshot.Version, _policy!.Name);
        }
    }

    // Under _rebuildGate. Eligible -> topology level -> healthy (or all, in panic) -> policy picker (-> slow start).
    private void BuildPicker(long now)
    {
        BalancedEndpoint[] eligible = _eligible;
        if (eligible.Length == 0 || _policy is null)
        {
            Publish(new FailingPicker(new NoEndpointsException(Service, Source.Description, EmptyReason)));
            Volatile.Write(ref _deadline, long.MaxValue);
            return;
        }
        ServiceOptions options = _context.Options;
        LocalityOptions locality = _context.Locality;
        HealthSettings health = _health;

        // EndpointSlice hints whenever the service has them; the location preference only when opted in. With every
        // endpoint healthy the counts give the level without a pass over the endpoints.
        TopologyLevel level = _unhealthyCount == 0 ? LevelWhileAllHealthy()
            : TopologyIsAll ? TopologyLevel.Any
            : TopologyFilter.Choose(eligible, static e => e.Endpoint, static e => e.IsHealthy, locality.NodeName, locality.Zone,
                options.Topology.Enabled ? options.Topology.MinHealthyShare : null);
        BalancedEndpoint[] candidates = eligible;
        _candidates = null;
        if (level != TopologyLevel.Any)
        {
            candidates = [.. eligible.Where(e => TopologyFilter.IsIn(e.Endpoint, level, locality.NodeName, locality.Zone))];
            for (int i = 0; i < candidates.Length; i++)
            {
                candidates[i].LocalSlot = i;
            }
            _candidates = candidates;
        }
        BalancedEndpoint[] healthy = _unhealthyCount == 0 ? candidates : [.. candidates.Where(static e => e.IsHealthy)];
        bool panic = healthy.Length == 0 || healthy.Length < health.PanicThreshold * candidates.Length;

        if ((int)level != _topologyLevel)
        {
            Log.TopologyLevelChanged(_logger, Service.Id, TopologyFilter.Describe(level), candidates.Length, eligible.Length);
            Volatile.Write(ref _topologyLevel, (int)level);
        }
        if (panic != _inPanic)
        {
            if (panic)
            {
                Log.PanicEntered(_logger, Service.Id, healthy.Length, candidates.Length);
                _metrics?.Panicked(Service.Id);
            }
            else
            {
                Log.PanicLeft(_logger, Service.Id, healthy.Length, candidates.Length);
            }
            Volatile.Write(ref _inPanic, panic);
        }

        BalancedEndpoint[] chosen = panic ? candidates : healthy;
        EndpointPicker picker = _policy.CreatePicker(PickerArrays.Frozen(chosen), _context);

        long deadline = long.MaxValue;
        bool warming = false;
        foreach (BalancedEndpoint endpoint in eligible)
        {
            long until = endpoint.EjectedUntil;
            if (until != 0)
            {
                deadline = Math.Min(deadline, until);
            }
            long warmEnd = endpoint.WarmEnd;
            if (warmEnd != 0)
            {
                if (now >= warmEnd)
                {
                    endpoint.EndWarming();
                }
                else
                {
                    warming = true;
                    deadline = Math.Min(deadline, warmEnd);
                }
            }
        }
        Swap(picker, warming, deadline);
    }

    private void Swap(EndpointPicker picker, bool warming, long deadline)
    {
        // Affinity must not be broken by slow start: a key keeps its endpoint.
        if (warming && _policy is not (HashPolicy or StickyPolicy))
        {
            picker = new SlowStartPicker(picker, _timeProvider);
        }
        Publish(picker);
        Volatile.Write(ref _deadline, deadline);
    }

    // Under _rebuildGate (or in the constructor): swaps the picker in and wakes whoever waits for a change.
    private void Publish(EndpointPicker picker)
    {
        Volatile.Write(ref _picker, picker);
        Interlocked.Exchange(ref _pickerChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

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
        _stopped.Cancel();
        _subscription.Dispose();
        lock (_rebuildGate)
        {
            foreach (BalancedEndpoint endpoint in _byAuthority.Values)
            {
                endpoint.Retire();
            }
            _byAuthority.Clear();
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Service} via {Source.Description}: {EligibleCount} eligible";

    /// <summary>Passive-health and latency parameters in timestamp ticks, computed once per rebuild.</summary>
    private sealed record HealthSettings(bool Enabled, int ConnectionFailures, int ServerErrors, double BaseEjectionTicks, double MaxEjectionTicks,
        double MaxEjectedShare, double PanicThreshold, long SlowStartTicks, double DecayTicks, TimeSpan ProbeInterval, TimeSpan ProbeTimeout)
    {
        public static HealthSettings From(ServiceOptions options, TimeProvider time)
        {
            HealthOptions h = options.Health;
            double f = time.TimestampFrequency;
            return new HealthSettings(h.Enabled, h.ConsecutiveConnectionFailures, h.ConsecutiveServerErrors, h.BaseEjectionTime.TotalSeconds * f,
                h.MaxEjectionTime.TotalSeconds * f, h.MaxEjectedShare, h.PanicThreshold, (long)(h.SlowStartWindow.TotalSeconds * f),
                options.PeakEwma.DecayTime.TotalSeconds * f, h.ProbeInterval, h.ProbeTimeout);
        }
    }
}

/// <summary>What a balancer needs from configuration for one service: its policy and that policy's parameters.</summary>
/// <param name="Policy">The policy.</param>
/// <param name="Options">The service's options.</param>
/// <param name="Locality">Where this process runs.</param>
/// <param name="PolicyExplicit">Whether the service's configuration names its policy (then a source's session affinity does not override it).</param>
internal readonly record struct BalancerSettings(ILoadBalancingPolicy Policy, ServiceOptions Options, LocalityOptions Locality, bool PolicyExplicit = false)
{
    private static readonly StickyPolicy Sticky = new();

    /// <summary>
    /// kube-proxy's <c>sessionAffinity: ClientIP</c>, when the source reports it and configuration names no policy:
    /// the Sticky policy on the client IP with the Service's timeout; every other option stays the service's.
    /// </summary>
    public BalancerSettings WithSourceAffinity(IEndpointSource source)
    {
        if (PolicyExplicit || source is not ISessionAffinitySource { ClientIpAffinityTimeout: TimeSpan timeout })
        {
            return this;
        }
        ServiceOptions o = Options;
        var sticky = new ServiceOptions
        {
            Endpoints = o.Endpoints,
            Policy = StickyPolicy.PolicyName,
            PeakEwma = o.PeakEwma,
            Affinity = new AffinityOptions { Key = AffinityKeySource.ClientIp, Timeout = timeout },
            Topology = o.Topology,
            Health = o.Health,
            RetryBudget = o.RetryBudget,
            Hedging = o.Hedging,
        };
        return this with { Policy = Sticky, Options = sticky };
    }
}
