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
    private BalancedEndpoint[] _eligible = [];
    // Where each endpoint of _eligible is, by host and port: no endpoint text is made to hold it, and a scan below
    // PositionTable.Threshold endpoints.
    private PositionTable<BalancedEndpoint, BalancedAddress> _positions;

    /// <summary>The eligible endpoints; the array is never written once published (a change makes a new one).</summary>
    public BalancedEndpoint[] Array => _eligible;

    /// <summary>Every endpoint tracked, ejected ones included (a copy); none once retired.</summary>
    public BalancedEndpoint[] All => [.. _eligible.Where(static e => !e.IsRetired)];

    /// <summary>The endpoint tracked for <paramref name="endpoint"/>'s address, unless it was retired.</summary>
    public BalancedEndpoint? Find(Endpoint endpoint) =>
        PositionOf(endpoint) is int at and >= 0 && !_eligible[at].IsRetired ? _eligible[at] : null;

    /// <summary>
    /// Makes <paramref name="eligible"/> the eligible set: endpoints whose address stays keep their object, new ones join
    /// (slow start, when due, through passive health). Returns the endpoints that left, to retire once the new picker is in.
    /// </summary>
    public List<BalancedEndpoint>? Replace(ImmutableArray<Endpoint> eligible, long now)
    {
        BalancedEndpoint[] current = _eligible;
        var next = new BalancedEndpoint[eligible.Length];
        for (int i = 0; i < next.Length; i++)
        {
            Endpoint endpoint = eligible[i];
            BalancedEndpoint balanced;
            if (_positions.Find(current, endpoint) is int at and >= 0 && !current[at].IsRetired)
            {
                balanced = current[at];
                balanced.Update(endpoint); // the same host and port, maybe other conditions
            }
            else
            {
                balanced = Join(endpoint, now);
            }
            balanced.Slot = i;
            next[i] = balanced;
        }
        List<BalancedEndpoint>? left = null;
        foreach (BalancedEndpoint endpoint in current)
        {
            if (!SlotArrays.Contains(next, endpoint))
            {
                (left ??= []).Add(endpoint);
            }
        }
        _eligible = next;
        _positions.Rebuild(next);
        return left;
    }

    /// <summary>Starts applying one change the eligibility builder reports endpoint by endpoint; <see cref="Commit"/> ends it.</summary>
    public Change StartChange(long now) => new(this, now);

    /// <summary>
    /// Puts the change's joiners and leavers into a new eligible array, and moves the index along: the leavers out, the
    /// endpoints moved into their places, the joiners in.
    /// </summary>
    public void Commit(in Change change)
    {
        if (change.Leaving is null && change.Joining is null)
        {
            return;
        }
        BalancedEndpoint[] current = _eligible;
        // The leavers' slots, read before the edit clears them: those in the head are the holes endpoints move into.
        int leaving = change.Leaving?.Count ?? 0;
        Span<int> holes = leaving <= 64 ? stackalloc int[leaving] : new int[leaving];
        for (int i = 0; i < leaving; i++)
        {
            BalancedEndpoint leaver = change.Leaving![i];
            holes[i] = leaver.Slot;
            _positions.Remove(current, leaver.Endpoint);
        }
        BalancedEndpoint[] next = SlotArrays.Edit(current, change.Leaving, change.Joining);
        int kept = next.Length - (change.Joining?.Count ?? 0);
        foreach (int hole in holes)
        {
            if ((uint)hole < (uint)kept && !ReferenceEquals(next[hole], current[hole]))
            {
                // Found in current: the slots of those moved already point at leavers there, none with this address.
                _positions.Move(current, next[hole].Endpoint, hole);
            }
        }
        _positions.Reserve(next.AsSpan(0, kept), next.Length);
        for (int i = kept; i < next.Length; i++)
        {
            _positions.Add(next[i].Endpoint, i);
        }
        _eligible = next;
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
        foreach (BalancedEndpoint endpoint in _eligible)
        {
            endpoint.Retire();
        }
        _positions.Clear();
    }

    private BalancedEndpoint Join(Endpoint endpoint, long now)
    {
        var balanced = new BalancedEndpoint(endpoint, serviceId);
        health.Joined(balanced, now);
        return balanced;
    }

    /// <summary>The index of an eligible endpoint, or -1 (during a change: of the array before it).</summary>
    private int PositionOf(Endpoint endpoint) => _positions.Find(_eligible, endpoint);

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
            if (owner.PositionOf(endpoint) is int at and >= 0)
            {
                (Leaving ??= []).Add(owner._eligible[at]);
            }
        }

        /// <inheritdoc />
        public void Changed(Endpoint previous, Endpoint current)
        {
            if (owner.PositionOf(current) is int at and >= 0)
            {
                BalancedEndpoint existing = owner._eligible[at];
                (ChangedInPlace ??= []).Add((existing, existing.Endpoint));
                existing.Update(current);
            }
            else
            {
                Joined(current);
            }
        }
    }

    // The index's key of an eligible endpoint.
    private readonly struct BalancedAddress : IAddressOf<BalancedEndpoint>
    {
        public static Endpoint AddressOf(BalancedEndpoint item) => item.Endpoint;
    }
}
