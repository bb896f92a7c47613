using System.Collections.Concurrent;

namespace ClientLb.Balancing.Policies;

/// <summary>
/// Sticky sessions with a timeout, as kube-proxy's <c>sessionAffinity: ClientIP</c>: the first request of a key gets
/// the next endpoint in turn, and later requests of that key go to the same endpoint until the key has been idle for
/// <see cref="AffinityOptions.Timeout"/> (10800 s by default), or the endpoint leaves or is ejected. Sessions survive
/// picker rebuilds. A request without a key gets a random endpoint.
/// </summary>
public sealed class StickyPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>Sticky</c>.</summary>
    public const string PolicyName = "Sticky";

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints) =>
        CreatePicker(endpoints, new PolicyContext("unnamed"));

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints, PolicyContext context)
    {
        AffinityOptions options = context.Options.Affinity;
        long timeoutTicks = (long)(options.Timeout.TotalSeconds * context.TimeProvider.TimestampFrequency);
        return new Picker(PickerArrays.Of(endpoints), context.GetOrAddState(() => new SessionTable()), new AffinityKey(options, context.Locality), context.TimeProvider, timeoutTicks);
    }

    /// <summary>One key's session. Fields are updated without a lock: two racing first requests may both assign, one wins.</summary>
    private sealed class Session(BalancedEndpoint endpoint, object picker, long lastUsed)
    {
        public BalancedEndpoint Endpoint = endpoint;

        // The picker that last confirmed the endpoint is among its endpoints; another picker checks once.
        public object Picker = picker;

        public long LastUsed = lastUsed;
    }

    private sealed class SessionTable
    {
        public ConcurrentDictionary<ulong, Session> Sessions { get; } = new();

        public int Inserts;
    }

    private sealed class Picker(BalancedEndpoint[] endpoints, SessionTable table, AffinityKey key, TimeProvider time, long timeoutTicks) : EndpointPicker
    {
        private const int SweepEvery = 4096;
        private int _next = Random.Shared.Next();

        public override IReadOnlyList<BalancedEndpoint> Endpoints => endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            if (!key.TryGetHash(context.Request, out ulong hash))
            {
                return Next(context.Exclude, Random.Shared.Next());
            }
            long now = time.GetTimestamp();
            if (table.Sessions.TryGetValue(hash, out Session? session))
            {
                BalancedEndpoint current = session.Endpoint;
                if (now - session.LastUsed <= timeoutTicks && !ReferenceEquals(current, context.Exclude) && Contains(session, current))
                {
                    session.LastUsed = now;
                    return current;
                }
                // Expired, gone, ejected or being retried away from: a new session for this key.
                BalancedEndpoint fresh = Next(context.Exclude, Interlocked.Increment(ref _next));
                session.Endpoint = fresh;
                session.Picker = this;
                session.LastUsed = now;
                return fresh;
            }
            BalancedEndpoint picked = Next(context.Exclude, Interlocked.Increment(ref _next));
            table.Sessions[hash] = new Session(picked, this, now);
            if (Interlocked.Increment(ref table.Inserts) % SweepEvery == 0)
            {
                Sweep(now);
            }
            return picked;
        }

        private bool Contains(Session session, BalancedEndpoint endpoint)
        {
            if (ReferenceEquals(session.Picker, this))
            {
                return true;
            }
            if (Array.IndexOf(endpoints, endpoint) < 0)
            {
                return false;
            }
            session.Picker = this;
            return true;
        }

        private BalancedEndpoint Next(BalancedEndpoint? exclude, int counter)
        {
            uint length = (uint)endpoints.Length;
            uint index = (uint)counter % length;
            BalancedEndpoint picked = endpoints[index];
            return ReferenceEquals(picked, exclude) && length > 1 ? endpoints[(index + 1) % length] : picked;
        }

        // Expired sessions are dropped now and then, so a stream of one-off keys cannot grow the table without bound.
        private void Sweep(long now)
        {
            foreach (KeyValuePair<ulong, Session> entry in table.Sessions)
            {
                if (now - entry.Value.LastUsed > timeoutTicks)
                {
                    table.Sessions.TryRemove(entry);
                }
            }
        }
    }
}
