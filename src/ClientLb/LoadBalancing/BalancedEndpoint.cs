using ClientLb.Endpoints;

namespace ClientLb.LoadBalancing;

/// <summary>
/// An endpoint as the balancer sees it: the endpoint, its live counters, and the connection pool that
/// reaches it. One instance lives as long as the endpoint stays in the service, across picker rebuilds,
/// so counters and connections survive snapshot changes.
/// </summary>
public sealed class BalancedEndpoint
{
    private Endpoint _endpoint;
    private int _outstanding;
    private int _retired;
    private IDisposable? _transport;

    internal BalancedEndpoint(Endpoint endpoint, string serviceId)
    {
        _endpoint = endpoint;
        ServiceId = serviceId;
    }

    /// <summary>The endpoint (its conditions may change over time; the address does not).</summary>
    public Endpoint Endpoint => Volatile.Read(ref _endpoint);

    /// <summary>The service id it belongs to, for metrics and messages.</summary>
    public string ServiceId { get; }

    /// <summary>Requests sent to this endpoint that have not completed yet.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>True once the endpoint left the service; in-flight requests still complete.</summary>
    public bool IsRetired => Volatile.Read(ref _retired) != 0;

    internal void Update(Endpoint endpoint) => Volatile.Write(ref _endpoint, endpoint);

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
        if (Volatile.Read(ref _transport) is T existing)
        {
            return existing;
        }
        T created = factory(Endpoint);
        IDisposable? raced = Interlocked.CompareExchange(ref _transport, created, null);
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
        Volatile.Write(ref _retired, 1);
        if (Outstanding == 0)
        {
            CloseTransport();
        }
    }

    private void CloseTransport() => Interlocked.Exchange(ref _transport, null)?.Dispose();

    /// <inheritdoc />
    public override string ToString() => $"{Endpoint} (outstanding {Outstanding})";
}
