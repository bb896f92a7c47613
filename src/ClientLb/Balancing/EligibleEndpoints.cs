using System.Collections.Immutable;
using ClientLb.Balancing.Health;
using ClientLb.Eligibility;
using ClientLb.Endpoints;

namespace ClientLb.Balancing;

/// <summary>
/// The balancer's endpoints: one <see cref="BalancedEndpoint"/> per address for as long as the address stays eligible (so
/// its counters, health and connections survive changes), and the eligible array the pickers are built over, in which
/// each endpoint knows its slot. Which endpoints are eligible is <see cref="EligibleSetBuilder"/>'s decision; this
/// follows it. Changed under the balancer's rebuild gate only.
/// </summary>
internal sealed class EligibleEndpoints(string serviceId, PassiveHealth health)
{
    // By host and port: no endpoint text is made to hold it.
    private AddressIndex _byAddress;
    private BalancedEndpoint[] _eligible = [];

    /// <summary>The eligible endpoints; the array is never written once published (a change makes a new one).</summary>
    public BalancedEndpoint[] Array => _eligible;

    /// <summary>Every endpoint tracked, ejected ones included (a copy; not through .Values, which the dictionary would keep).</summary>
    public BalancedEndpoint[] All => _byAddress.ToArray();

    /// <summary>The endpoint tracked for <paramref name="endpoint"/>'s address, unless it was retired.</summary>
    public BalancedEndpoint? Find(Endpoint endpoint) =>
        _byAddress.TryGetValue(endpoint, out BalancedEndpoint? balanced) && !balanced.IsRetired ? balanced : null;

    /// <summary>
    /// Makes <paramref name="eligible"/> the eligible set: endpoints whose address stays keep their object, new ones join
    /// (slow start, when due, through passive health). Returns the endpoints that left, to retire once the new picker is in.
    /// </summary>
    public List<BalancedEndpoint>? Replace(ImmutableArray<Endpoint> eligible, long now)
    {
        var next = new BalancedEndpoint[eligible.Length];
        var seen = new HashSet<Endpoint>(Endpoint.AddressComparer);
        _byAddress.EnsureCapacity(next.Length); // one allocation of the right size rather than growth by doubling
        for (int i = 0; i < next.Length; i++)
        {
            Endpoint endpoint = eligible[i];
            if (!_byAddress.TryGetValue(endpoint, out BalancedEndpoint? balanced) || balanced.IsRetired)
            {
                balanced = Join(endpoint, now);
            }
            else
            {
                Rekey(balanced, endpoint);
            }
            balanced.Slot = i;
            seen.Add(endpoint);
            next[i] = balanced;
        }
        _eligible = next;
        List<BalancedEndpoint>? left = _byAddress.NotIn(seen);
        foreach (BalancedEndpoint gone in left ?? [])
        {
            _byAddress.Remove(gone.Endpoint, out _);
        }
        return left;
    }

    /// <summary>Starts applying one change the eligibility builder reports endpoint by endpoint; <see cref="Commit"/> ends it.</summary>
    public Change StartChange(long now) => new(this, now);

    /// <summary>Puts the change's joiners and leavers into a new eligible array.</summary>
    public void Commit(in Change change)
    {
        if (change.Leaving is not null || change.Joining is not null)
        {
            _eligible = SlotArrays.Edit(_eligible, change.Leaving, change.Joining);
        }
    }

    /// <summary>Retires an endpoint that left: no new picks find it, and its connections close once idle.</summary>
    public static void Retire(BalancedEndpoint gone)
    {
        gone.Slot = -1;
        gone.Retire();
    }

    /// <summary>Retires every endpoint (the balancer is disposed).</summary>
    public void RetireAll()
    {
        foreach (BalancedEndpoint endpoint in _byAddress.ToArray())
        {
            endpoint.Retire();
        }
        _byAddress.Clear();
    }

    private BalancedEndpoint Join(Endpoint endpoint, long now)
    {
        var balanced = new BalancedEndpoint(endpoint, serviceId);
        _byAddress.Remove(endpoint, out _); // a retired one of the same host and port, keyed by its own (older) object
        _byAddress.Add(balanced);
        health.Joined(balanced, now);
        return balanced;
    }

    /// <summary>
    /// Points <paramref name="balanced"/> at <paramref name="endpoint"/> (the same host and port, other conditions) and keys
    /// the index by the new object, so the replaced endpoint is not kept alive by the key.
    /// </summary>
    private void Rekey(BalancedEndpoint balanced, Endpoint endpoint)
    {
        if (!ReferenceEquals(balanced.Endpoint, endpoint))
        {
            _byAddress.Rekey(balanced, endpoint);
        }
    }

    /// <summary>One change in progress: the endpoints that join, leave, or change in place, as the builder reports them.</summary>
    internal struct Change(EligibleEndpoints owner, long now) : IEligibleSetChanges
    {
        /// <summary>Endpoints that leave the eligible set (retire them after the swap).</summary>
        public List<BalancedEndpoint>? Leaving { get; private set; }

        /// <summary>Endpoints that join it.</summary>
        public List<BalancedEndpoint>? Joining { get; private set; }

        /// <summary>Endpoints that stay with other attributes, with what they were (they may move in or out of the topology level).</summary>
        public List<(BalancedEndpoint Endpoint, Endpoint Previous)>? ChangedInPlace { get; private set; }

        /// <inheritdoc />
        public void Joined(Endpoint endpoint) => (Joining ??= []).Add(owner.Join(endpoint, now));

        /// <inheritdoc />
        public void Left(Endpoint endpoint)
        {
            if (owner._byAddress.Remove(endpoint, out BalancedEndpoint? gone))
            {
                (Leaving ??= []).Add(gone);
            }
        }

        /// <inheritdoc />
        public void Changed(Endpoint previous, Endpoint current)
        {
            if (owner._byAddress.TryGetValue(current, out BalancedEndpoint? existing))
            {
                (ChangedInPlace ??= []).Add((existing, existing.Endpoint));
                owner.Rekey(existing, current);
            }
            else
            {
                Joined(current);
            }
        }
    }
}
