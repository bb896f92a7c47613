using ClientLb.Diagnostics;
using ClientLb.Endpoints;

namespace ClientLb.Balancing;

/// <summary>
/// An endpoint as the balancer sees it: the endpoint, its live counters, and the connection pool that
/// reaches it. One instance lives as long as the endpoint stays in the service, across picker rebuilds,
/// so counters and connections survive snapshot changes.
/// </summary>
public sealed partial class BalancedEndpoint : IMeteredEndpoint
{
    private Endpoint _endpoint;
    private int _outstanding;
    // Retired, Probing, LatencyObserved and the active-health verdict, changed only by atomic operations: one field instead
    // of four keeps the object small (a process holds hundreds of thousands of endpoints).
    private int _flags;
    private const int Retired = 1, Probing = 2, LatencyObserved = 4, FailingHealthChecks = 8;

    // What an endpoint in use has, made on its first use (a connection, an answer, a failure, a ramp): its transport, its
    // latency (a peak-EWMA estimate), passive health and slow start. An endpoint that was never called keeps none of it:
    // eleven fields fewer in each of the hundreds of thousands a process may hold (40 bytes for health and ramp, then 24
    // for latency and transport; issue 18). Read without a gate (picks read a null as "no latency yet, healthy, full
    // share"); installed once by an atomic exchange.
    private UsedState? _state;

    private sealed class UsedState
    {
        // The connection pool that reaches the endpoint, made on the first call; swapped by atomic operations.
        public IDisposable? Transport;
        // Latency: a peak-EWMA estimate in timestamp ticks (linkerd2-proxy's PeakEwma), negative before any; written while
        // holding LatencyWriter (1). An int gate rather than a Lock object (44 bytes each): writers of one endpoint's
        // estimate (its responses completing) rarely meet. It sits here, not in the endpoint's flags, so that recording
        // an answer (every call) writes the state's line only, not the line the outstanding count and picks use.
        // Reads (picks) take no gate.
        public double LatencyTicks = -1;
        public long LatencyStamp;
        public int LatencyWriter;
        // Failures in a row, counted lock-free; ejection and ramp state written under the balancer's gate.
        public int ConnectionFailures;
        public int ServerErrors;
        public long EjectedUntil;
        public long WarmStart;
        public long WarmEnd;
        public int Ejections;
        public string? EjectionReason;
        public long ReturnedAt;
    }

    private UsedState State()
    {
        if (Volatile.Read(ref _state) is UsedState state)
        {
            return state;
        }
        var created = new UsedState();
        return Interlocked.CompareExchange(ref _state, created, null) ?? created;
    }

    internal BalancedEndpoint(Endpoint endpoint, string serviceId)
    {
        _endpoint = endpoint;
        ServiceId = serviceId;
    }

    /// <summary>The endpoint (its conditions may change over time; the address does not).</summary>
    public Endpoint Endpoint => Volatile.Read(ref _endpoint);

    /// <summary>The service id it belongs to, for metrics and messages.</summary>
    public string ServiceId { get; }

    string IMeteredEndpoint.Authority => Endpoint.Authority;

    /// <summary>Requests sent to this endpoint that have not completed yet.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>True once the endpoint left the service; in-flight requests still complete.</summary>
    public bool IsRetired => (Volatile.Read(ref _flags) & Retired) != 0;

    /// <summary>True while passive health keeps the endpoint out of rotation.</summary>
    public bool IsEjected => EjectedUntil != 0;

    /// <summary>The peak-EWMA latency estimate as last updated, or null before the first response.</summary>
    public TimeSpan? Latency(TimeProvider timeProvider)
    {
        double ticks = RawLatency(out _);
        return ticks < 0 ? null : TimeSpan.FromSeconds(ticks / timeProvider.TimestampFrequency);
    }

    internal void Update(Endpoint endpoint) => Volatile.Write(ref _endpoint, endpoint);

    /// <summary>
    /// The latency estimate decayed to <paramref name="now"/>, in timestamp ticks; <paramref name="defaultTicks"/> before
    /// the first response. Decaying on read lets an endpoint that stopped getting traffic after a spike win picks again.
    /// </summary>
    internal double LatencyEstimate(long now, double decayTicks, double defaultTicks)
    {
        double estimate = RawLatency(out long stamp);
        if (estimate < 0)
        {
            return defaultTicks;
        }
        long elapsed = now - stamp;
        return elapsed <= 0 ? estimate : estimate * Math.Exp(-elapsed / decayTicks);
    }

    /// <summary>The estimate as last written (timestamp ticks; negative before any) and when it was written.</summary>
    internal double RawLatency(out long stamp)
    {
        if (Volatile.Read(ref _state) is not UsedState state)
        {
            stamp = 0;
            return -1;
        }
        stamp = Volatile.Read(ref state.LatencyStamp);
        return Volatile.Read(ref state.LatencyTicks);
    }

    /// <summary>Whether a latency was ever recorded or seeded.</summary>
    internal bool HasLatency => RawLatency(out _) >= 0;

    /// <summary>Starts the estimate of an endpoint that has not answered yet at <paramref name="ticks"/>, decaying from <paramref name="now"/>.</summary>
    internal void SeedLatency(long now, double ticks)
    {
        UsedState state = State();
        EnterLatencyWriter(state);
        if (state.LatencyTicks < 0)
        {
            Volatile.Write(ref state.LatencyTicks, ticks);
            Volatile.Write(ref state.LatencyStamp, now);
        }
        ExitLatencyWriter(state);
    }

    /// <summary>Folds one observed latency into the peak-EWMA estimate: a higher value replaces it at once, a lower one decays in.</summary>
    internal void RecordLatency(long now, long rttTicks, double decayTicks)
    {
        UsedState state = State();
        EnterLatencyWriter(state);
        double estimate = state.LatencyTicks;
        // The first real answer replaces a seeded guess outright.
        if (estimate < rttTicks || (_flags & LatencyObserved) == 0)
        {
            Volatile.Write(ref state.LatencyTicks, rttTicks);
        }
        else
        {
            double decay = Math.Exp(-Math.Max(0, now - state.LatencyStamp) / decayTicks);
            Volatile.Write(ref state.LatencyTicks, estimate * decay + rttTicks * (1 - decay));
        }
        Volatile.Write(ref state.LatencyStamp, now);
        // Set once: an atomic write on every answer would contend for the line the outstanding count shares.
        if ((Volatile.Read(ref _flags) & LatencyObserved) == 0)
        {
            Interlocked.Or(ref _flags, LatencyObserved);
        }
        ExitLatencyWriter(state);
    }

    private static void EnterLatencyWriter(UsedState state)
    {
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref state.LatencyWriter, 1, 0) != 0)
        {
            spin.SpinOnce();
        }
    }

    // A release write: what was written inside is visible to the next writer that enters.
    private static void ExitLatencyWriter(UsedState state) => Volatile.Write(ref state.LatencyWriter, 0);

    /// <summary>Counts a connection failure in a row; returns how many there are now.</summary>
    internal int CountConnectionFailure() => Interlocked.Increment(ref State().ConnectionFailures);

    /// <summary>Counts a 5xx response in a row; returns how many there are now.</summary>
    internal int CountServerError() => Interlocked.Increment(ref State().ServerErrors);

    /// <summary>A success ends both runs of failures. Writes only when there is something to reset (no shared-line churn).</summary>
    internal void CountSuccess()
    {
        if (Volatile.Read(ref _state) is not UsedState health)
        {
            return; // never answered nor failed
        }
        if (Volatile.Read(ref health.ConnectionFailures) != 0)
        {
            Volatile.Write(ref health.ConnectionFailures, 0);
        }
        if (Volatile.Read(ref health.ServerErrors) != 0)
        {
            Volatile.Write(ref health.ServerErrors, 0);
        }
    }

    /// <summary>The timestamp at which an ejection ends; 0 when not ejected.</summary>
    internal long EjectedUntil => Volatile.Read(ref _state) is UsedState health ? Volatile.Read(ref health.EjectedUntil) : 0;

    /// <summary>
    /// The endpoint's index among its balancer's eligible endpoints, -1 when not eligible; written under the balancer's gate.
    /// An integration that keeps its own state per endpoint (grpc-dotnet's subchannels) can find a picked endpoint's entry by
    /// it without a lookup; a rebuild may move an endpoint to another slot, so the entry found is checked by reference.
    /// </summary>
    public int Slot { get; internal set; } = -1;

    /// <summary>The endpoint's index in its balancer's topology candidates when a topology level narrows traffic; stale otherwise.</summary>
    internal int LocalSlot { get; set; } = -1;

    /// <summary>How many times in a row the endpoint was ejected (drives the exponential ejection time).</summary>
    internal int Ejections
    {
        get => Volatile.Read(ref _state)?.Ejections ?? 0;
        set => State().Ejections = value;
    }

    /// <summary>Why passive health last ejected the endpoint (<c>connection_failures</c>, <c>server_errors</c>); written under the balancer's gate.</summary>
    internal string? EjectionReason
    {
        get => Volatile.Read(ref _state)?.EjectionReason;
        set => State().EjectionReason = value;
    }

    /// <summary>When the endpoint last came back from an ejection.</summary>
    internal long ReturnedAt
    {
        get => Volatile.Read(ref _state)?.ReturnedAt ?? 0;
        set => State().ReturnedAt = value;
    }

    internal void Eject(long until)
    {
        UsedState health = State();
        Volatile.Write(ref health.EjectedUntil, until);
        Volatile.Write(ref health.ConnectionFailures, 0);
        Volatile.Write(ref health.ServerErrors, 0);
    }

    internal void Return(long now)
    {
        UsedState health = State();
        Volatile.Write(ref health.EjectedUntil, 0);
        health.ReturnedAt = now;
    }

    /// <summary>The end of the slow-start ramp; 0 when the endpoint takes its full share.</summary>
    internal long WarmEnd => Volatile.Read(ref _state) is UsedState health ? Volatile.Read(ref health.WarmEnd) : 0;

    internal long WarmStart => Volatile.Read(ref _state) is UsedState health ? Volatile.Read(ref health.WarmStart) : 0;

    internal void StartWarming(long now, long windowTicks)
    {
        UsedState health = State();
        Volatile.Write(ref health.WarmStart, now);
        Volatile.Write(ref health.WarmEnd, now + windowTicks);
    }

    internal void EndWarming()
    {
        if (Volatile.Read(ref _state) is UsedState health)
        {
            Volatile.Write(ref health.WarmEnd, 0);
        }
    }

    /// <summary>Claims the endpoint's one probe loop; false when one runs already.</summary>
    internal bool TryStartProbing() => (Interlocked.Or(ref _flags, Probing) & Probing) == 0;

    internal void StopProbing() => Interlocked.And(ref _flags, ~Probing);

    /// <summary>Counts a request as started; pair with <see cref="OnRequestEnd"/>.</summary>
    public void OnRequestStart() => Interlocked.Increment(ref _outstanding);

    /// <summary>Counts a request as ended; the last one to end on a retired endpoint closes its connections.</summary>
    public void OnRequestEnd()
    {
        if (Interlocked.Decrement(ref _outstanding) == 0 && IsRetired)
        {
            CloseTransport();
        }
    }

    /// <summary>The transport (connection pool) for this endpoint, created on first use by <paramref name="factory"/>.</summary>
    internal T GetOrCreateTransport<T>(Func<Endpoint, T> factory) where T : class, IDisposable
    {
        UsedState state = State();
        if (Volatile.Read(ref state.Transport) is T existing)
        {
            return existing;
        }
        T created = factory(Endpoint);
        IDisposable? raced = Interlocked.CompareExchange(ref state.Transport, created, null);
        if (raced is T winner)
        {
            created.Dispose();
            return winner;
        }
        return created;
    }

    /// <summary>Marks the endpoint as gone: no new picks will find it, and its connections close when idle.</summary>
    internal void Retire()
    {
        Interlocked.Or(ref _flags, Retired);
        if (Outstanding == 0)
        {
            CloseTransport();
        }
    }

    private void CloseTransport()
    {
        if (Volatile.Read(ref _state) is UsedState state)
        {
            Interlocked.Exchange(ref state.Transport, null)?.Dispose();
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Endpoint} (outstanding {Outstanding}{(IsEjected ? ", ejected" : "")})";
}
