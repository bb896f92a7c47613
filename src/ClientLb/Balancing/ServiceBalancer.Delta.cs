using ClientLb.Eligibility;
using ClientLb.Endpoints;

namespace ClientLb.Balancing;

// The delta path: a snapshot that says what changed is applied in O(changed) plus array copies. Counts (eligibility,
// health, topology) stand in for passes over the endpoints; whenever they cannot decide, the full rebuild in
// ServiceBalancer.cs runs instead. Everything here runs under _rebuildGate.
public sealed partial class ServiceBalancer
{
    /// <summary>
    /// Applies one snapshot's changes to the eligible set: counts move by the changed endpoints, endpoints that became
    /// eligible join and those that stopped leave (moving the last one into the hole), then the picker is rebuilt over
    /// the new array. Returns false, having changed nothing, when the change needs the full rebuild.
    /// </summary>
    private bool TryApplyLocked(EndpointSnapshot snapshot, EndpointChanges changes)
    {
        if (_schemeSensitive || (Service.Schemes.Count > 0 && HasScheme(changes)))
        {
            return false;
        }
        int total = _total + changes.Added.Length - changes.Removed.Length, ready = _readyCount, servingTerminating = _servingTerminating;
        foreach (Endpoint endpoint in changes.Removed)
        {
            Count(endpoint, -1, ref ready, ref servingTerminating);
        }
        foreach (Endpoint endpoint in changes.Added)
        {
            Count(endpoint, 1, ref ready, ref servingTerminating);
        }
        foreach (EndpointUpdate update in changes.Updated)
        {
            Count(update.Previous, -1, ref ready, ref servingTerminating);
            Count(update.Current, 1, ref ready, ref servingTerminating);
        }
        EndpointSelectionKind kind = ready > 0 ? EndpointSelectionKind.Ready
            : servingTerminating > 0 ? EndpointSelectionKind.ServingTerminatingFallback : EndpointSelectionKind.None;
        if (kind != _selectionKind)
        {
            return false; // e.g. the last ready endpoint went: every terminating one becomes eligible at once
        }

        long now = _timeProvider.GetTimestamp();
        HealthSettings health = _health;
        List<BalancedEndpoint>? leaving = null, joining = null;
        List<(BalancedEndpoint Endpoint, Endpoint Previous)>? changedInPlace = null;
        foreach (Endpoint endpoint in changes.Removed)
        {
            if (IsEligible(endpoint, kind) && _byAuthority.Remove(endpoint, out BalancedEndpoint? gone))
            {
                CountTopology(gone.Endpoint, -1);
                (leaving ??= []).Add(gone);
            }
        }
        foreach (EndpointUpdate update in changes.Updated)
        {
            bool wasEligible = IsEligible(update.Previous, kind), isEligible = IsEligible(update.Current, kind);
            if (wasEligible && _byAuthority.TryGetValue(update.Current, out BalancedEndpoint? existing))
            {
                if (isEligible)
                {
                    CountTopology(existing.Endpoint, -1);
                    CountTopology(update.Current, 1);
                    (changedInPlace ??= []).Add((existing, existing.Endpoint));
                    Rekey(existing, update.Current);
                }
                else
                {
                    _byAuthority.Remove(update.Current);
                    CountTopology(existing.Endpoint, -1);
                    (leaving ??= []).Add(existing);
                }
            }
            else if (isEligible)
            {
                (joining ??= []).Add(Join(update.Current, now, health));
                CountTopology(update.Current, 1);
            }
        }
        foreach (Endpoint endpoint in changes.Added)
        {
            if (IsEligible(endpoint, kind))
            {
                (joining ??= []).Add(Join(endpoint, now, health));
                CountTopology(endpoint, 1);
            }
        }

        if (leaving is not null || joining is not null)
        {
            _eligible = Edit(_eligible, leaving, joining);
        }
        _builtVersion = snapshot.Version;
        _deltaRebuilds++;
        SetSelection(kind, total, ready, servingTerminating);
        if (!TryBuildPickerFast(leaving, joining, changedInPlace))
        {
            BuildPicker(now);
        }
        LogPicker(snapshot);
        foreach (BalancedEndpoint gone in leaving ?? [])
        {
            Leave(gone);
        }
        return true;
    }

    // A copy of an endpoint array (the eligible one, or the topology level's when local) with the leavers taken out and
    // the joiners appended; keeps each endpoint's slot equal to its index. The copy has its final length from the start
    // (one O(N) copy, no resize): the endpoints kept from the tail fill the holes the leavers leave in the head.
    private static BalancedEndpoint[] Edit(BalancedEndpoint[] current, List<BalancedEndpoint>? leaving, List<BalancedEndpoint>? joining, bool local = false)
    {
        int length = current.Length, gone = 0;
        List<int>? holes = null;
        foreach (BalancedEndpoint leaver in leaving ?? [])
        {
            int slot = local ? leaver.LocalSlot : leaver.Slot;
            if ((uint)slot < (uint)length && ReferenceEquals(current[slot], leaver))
            {
                (holes ??= []).Add(slot);
                SetSlot(leaver, -1, local);
                gone++;
            }
        }
        int kept = length - gone;
        var next = new BalancedEndpoint[kept + (joining?.Count ?? 0)];
        Array.Copy(current, next, kept);
        if (holes is not null)
        {
            int hole = 0;
            for (int i = kept; i < length; i++)
            {
                BalancedEndpoint tail = current[i];
                if ((local ? tail.LocalSlot : tail.Slot) == -1)
                {
                    continue; // a leaver itself
                }
                while (holes[hole] >= kept)
                {
                    hole++; // a leaver in the tail leaves no hole to fill
                }
                next[holes[hole]] = tail;
                SetSlot(tail, holes[hole++], local);
            }
        }
        int count = kept;
        foreach (BalancedEndpoint joined in joining ?? [])
        {
            SetSlot(joined, count, local);
            next[count++] = joined;
        }
        return next;
    }

    private static void SetSlot(BalancedEndpoint endpoint, int slot, bool local)
    {
        if (local)
        {
            endpoint.LocalSlot = slot;
        }
        else
        {
            endpoint.Slot = slot;
        }
    }

    // Topology counts of the eligible set, moved wherever an endpoint joins, leaves or changes.
    private void CountTopology(Endpoint endpoint, int delta)
    {
        LocalityOptions locality = _context.Locality;
        if (endpoint.Conditions.Ready)
        {
            _missingNodeHints += endpoint.NodeHints.Count == 0 ? delta : 0;
            _missingZoneHints += endpoint.ZoneHints.Count == 0 ? delta : 0;
            _hintedNode += TopologyFilter.IsIn(endpoint, TopologyLevel.NodeHints, locality.NodeName, locality.Zone) ? delta : 0;
            _hintedZone += TopologyFilter.IsIn(endpoint, TopologyLevel.ZoneHints, locality.NodeName, locality.Zone) ? delta : 0;
        }
        _inNode += TopologyFilter.IsIn(endpoint, TopologyLevel.Node, locality.NodeName, locality.Zone) ? delta : 0;
        _inZone += TopologyFilter.IsIn(endpoint, TopologyLevel.Zone, locality.NodeName, locality.Zone) ? delta : 0;
    }

    /// <summary>
    /// What <see cref="TopologyFilter.Choose"/> returns when every eligible endpoint is healthy, from the counts alone:
    /// the hints when kube-proxy's rule applies, else the opted-in location preference's narrowest non-empty set
    /// (all healthy, so any share is met), else all.
    /// </summary>
    private TopologyLevel LevelWhileAllHealthy()
    {
        LocalityOptions locality = _context.Locality;
        bool node = !string.IsNullOrEmpty(locality.NodeName), zone = !string.IsNullOrEmpty(locality.Zone);
        if (_selectionKind == EndpointSelectionKind.Ready)
        {
            if (node && _missingNodeHints == 0 && _hintedNode > 0)
            {
                return TopologyLevel.NodeHints;
            }
            if (zone && _missingZoneHints == 0 && _hintedZone > 0)
            {
                return TopologyLevel.ZoneHints;
            }
        }
        if (_context.Options.Topology.Enabled)
        {
            if (node && _inNode > 0)
            {
                return TopologyLevel.Node;
            }
            if (zone && _inZone > 0)
            {
                return TopologyLevel.Zone;
            }
        }
        return TopologyLevel.Any;
    }

    /// <summary>
    /// Whether TopologyFilter would keep all endpoints without looking: the location preference is off and the hint rule
    /// cannot apply (no ready endpoint, or for each of node and zone, this process does not know it or some ready
    /// endpoint lacks that hint).
    /// </summary>
    private bool TopologyIsAll
    {
        get
        {
            if (_context.Options.Topology.Enabled)
            {
                return false;
            }
            LocalityOptions locality = _context.Locality;
            return _selectionKind != EndpointSelectionKind.Ready
                || ((string.IsNullOrEmpty(locality.NodeName) || _missingNodeHints > 0) && (string.IsNullOrEmpty(locality.Zone) || _missingZoneHints > 0));
        }
    }

    private static bool IsEligible(Endpoint endpoint, EndpointSelectionKind kind) => EndpointSelector.IsEligible(endpoint, kind);

    // Mirrors EndpointSelector's counting: ready, else serving and terminating.
    private static void Count(Endpoint endpoint, int delta, ref int ready, ref int servingTerminating)
    {
        if (endpoint.Conditions.Ready)
        {
            ready += delta;
        }
        else if (endpoint.Conditions.Serving && endpoint.Conditions.Terminating)
        {
            servingTerminating += delta;
        }
    }

    private static bool HasScheme(EndpointChanges changes) =>
        changes.Added.Any(static e => e.Scheme is not null) || changes.Updated.Any(static u => u.Current.Scheme is not null);

    /// <summary>
    /// The picker without a pass over the eligible endpoints, when nothing is ejected or failing health checks (so no
    /// panic, and the topology level follows from the counts): over the whole eligible array, or over the level's
    /// candidates edited by the endpoints that entered or left the level. Only the endpoints that just joined can add a
    /// slow-start deadline. False when the full build is needed (e.g. the level changes).
    /// </summary>
    private bool TryBuildPickerFast(List<BalancedEndpoint>? leaving, List<BalancedEndpoint>? joining, List<(BalancedEndpoint Endpoint, Endpoint Previous)>? changedInPlace)
    {
        BalancedEndpoint[] eligible = _eligible;
        if (eligible.Length == 0 || _policy is null || _unhealthyCount != 0 || _inPanic)
        {
            return false;
        }
        TopologyLevel level = LevelWhileAllHealthy();
        if ((int)level != _topologyLevel)
        {
            return false;
        }
        BalancedEndpoint[] chosen = eligible;
        if (level != TopologyLevel.Any)
        {
            if (_candidates is not BalancedEndpoint[] candidates)
            {
                return false;
            }
            LocalityOptions locality = _context.Locality;
            List<BalancedEndpoint>? localLeaving = null, localJoining = null;
            foreach (BalancedEndpoint gone in leaving ?? [])
            {
                if ((uint)gone.LocalSlot < (uint)candidates.Length && ReferenceEquals(candidates[gone.LocalSlot], gone))
                {
                    (localLeaving ??= []).Add(gone);
                }
            }
            foreach (BalancedEndpoint joined in joining ?? [])
            {
                if (TopologyFilter.IsIn(joined.Endpoint, level, locality.NodeName, locality.Zone))
                {
                    (localJoining ??= []).Add(joined);
                }
            }
            foreach ((BalancedEndpoint endpoint, Endpoint previous) in changedInPlace ?? [])
            {
                bool was = TopologyFilter.IsIn(previous, level, locality.NodeName, locality.Zone);
                bool now = TopologyFilter.IsIn(endpoint.Endpoint, level, locality.NodeName, locality.Zone);
                if (was != now)
                {
                    (now ? localJoining ??= [] : localLeaving ??= []).Add(endpoint);
                }
            }
            if (localLeaving is not null || localJoining is not null)
            {
                _candidates = candidates = Edit(candidates, localLeaving, localJoining, local: true);
            }
            chosen = candidates;
            if (chosen.Length == 0)
            {
                return false;
            }
        }
        EndpointPicker picker = _policy.CreatePicker(PickerArrays.Frozen(chosen), _context);
        long deadline = _deadline;
        bool warming = Volatile.Read(ref _picker) is SlowStartPicker;
        foreach (BalancedEndpoint joined in joining ?? [])
        {
            long warmEnd = joined.WarmEnd;
            if (warmEnd != 0)
            {
                warming = true;
                deadline = Math.Min(deadline, warmEnd);
            }
        }
        Swap(picker, warming, deadline);
        return true;
    }
}
