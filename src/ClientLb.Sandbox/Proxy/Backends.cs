using System.Net;

namespace ClientLb.Sandbox.Proxy;

/// <summary>
/// The ready endpoints of one Service port as the proxy picks them: round-robin, or with <c>sessionAffinity: ClientIP</c>
/// the client's previous endpoint while it is still ready and the affinity has not timed out. Replaced whole on every change.
/// </summary>
internal sealed class Backends(TimeProvider time)
{
    private readonly Lock _affinityLock = new();
    private readonly Dictionary<IPAddress, (IPEndPoint Backend, DateTimeOffset LastUsed)> _affinity = [];
    private volatile IPEndPoint[] _ready = [];
    private int _next = -1;

    /// <summary>The client-IP affinity timeout, or null for none (round-robin only).</summary>
    public TimeSpan? AffinityTimeout { get; set; }

    public IReadOnlyList<IPEndPoint> Ready => _ready;

    public void Set(IPEndPoint[] ready) => _ready = ready;

    /// <summary>An endpoint for a new connection from <paramref name="client"/> that is not in <paramref name="exclude"/>, or null when none is left.</summary>
    public IPEndPoint? Pick(IPAddress client, IReadOnlyCollection<IPEndPoint> exclude)
    {
        IPEndPoint[] ready = _ready;
        if (AffinityTimeout is { } timeout)
        {
            DateTimeOffset now = time.GetUtcNow();
            lock (_affinityLock)
            {
                if (_affinity.TryGetValue(client, out (IPEndPoint Backend, DateTimeOffset LastUsed) kept) && now - kept.LastUsed <= timeout
                    && Array.IndexOf(ready, kept.Backend) >= 0 && !exclude.Contains(kept.Backend))
                {
                    _affinity[client] = (kept.Backend, now);
                    return kept.Backend;
                }
                IPEndPoint? picked = RoundRobin(ready, exclude);
                if (picked is null)
                {
                    _affinity.Remove(client);
                }
                else
                {
                    _affinity[client] = (picked, now);
                }

                return picked;
            }
        }
        return RoundRobin(ready, exclude);
    }

    private IPEndPoint? RoundRobin(IPEndPoint[] ready, IReadOnlyCollection<IPEndPoint> exclude)
    {
        for (int i = 0; i < ready.Length; i++)
        {
            IPEndPoint candidate = ready[(int)((uint)Interlocked.Increment(ref _next) % (uint)ready.Length)];
            if (!exclude.Contains(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
