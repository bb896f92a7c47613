using System.Collections.Immutable;
using System.Runtime.InteropServices;
using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Sources;

/// <summary>
/// Makes a source's next <see cref="EndpointSnapshot"/>, with what changed since the current one: from a whole list
/// (order-insensitive) or from a change in O(changed). Keeps a host-and-port index of the current list once it is long
/// enough for one to pay. Not thread-safe: its <see cref="EndpointSource"/> calls it under its lock.
/// </summary>
internal sealed class SnapshotBuilder(ServiceName service, string kind)
{
    // Host and port -> position in the current snapshot's endpoints, moved along with every new snapshot; a scan while the
    // list is shorter than PositionTable.Threshold.
    private PositionTable<Endpoint, SelfAddress> _index;

    /// <summary>The endpoints with distinct hosts and ports (the first of each wins), and where each is in that list.</summary>
    public static (List<Endpoint> List, PositionTable<Endpoint, SelfAddress> Index) Distinct(IEnumerable<Endpoint> endpoints)
    {
        // Room for all at once when the count is known, else by doubling: each growth rehashes what is held.
        int room = endpoints.TryGetNonEnumeratedCount(out int count) ? count : 0;
        var list = new List<Endpoint>(room);
        PositionTable<Endpoint, SelfAddress> index = default;
        index.Reserve([], room);
        foreach (Endpoint endpoint in endpoints)
        {
            ReadOnlySpan<Endpoint> held = CollectionsMarshal.AsSpan(list);
            if (index.Find(held, endpoint) < 0)
            {
                if (list.Count >= room)
                {
                    room = list.Count < PositionTable<Endpoint, SelfAddress>.Threshold ? list.Count + 1 : room * 2;
                    index.Reserve(held, room);
                }
                index.Add(endpoint, list.Count);
                list.Add(endpoint);
            }
        }
        return (list, index);
    }

    /// <summary>
    /// The snapshot that replaces <paramref name="current"/> with <paramref name="list"/> (from <see cref="Distinct"/>, with
    /// its index), or null when the list holds the same endpoints in any order.
    /// </summary>
    public EndpointSnapshot? Replace(EndpointSnapshot? current, List<Endpoint> list, PositionTable<Endpoint, SelfAddress> index, DateTimeOffset now)
    {
        EndpointChanges? changes = current is null ? null : Diff(current.Endpoints, list, index);
        if (changes is { Count: 0 })
        {
            return null;
        }
        index.TrimExcess(CollectionsMarshal.AsSpan(list)); // it grew by steps; kept for the life of the snapshot
        _index = index;
        return new EndpointSnapshot(service, kind, (current?.Version ?? 0) + 1, now, [.. list], changes);
    }

    /// <summary>
    /// The snapshot after a change: each of <paramref name="upserted"/> is added or replaces the endpoint with its
    /// authority, each of <paramref name="removed"/> (matched by authority) leaves; null when nothing changed. Before the
    /// first snapshot <paramref name="upserted"/> is the whole list. The caller checked that no authority repeats.
    /// </summary>
    // Classifies first (lookups only), then copies the array once, at its final length, and edits the copy: updates in
    // place, removals filled by the endpoints kept from the tail (order carries no meaning), additions at the end.
    public EndpointSnapshot? Apply(EndpointSnapshot? current, IReadOnlyCollection<Endpoint> upserted, IReadOnlyCollection<Endpoint> removed, DateTimeOffset now)
    {
        if (current is null)
        {
            Endpoint[] first = [.. upserted];
            _index.Rebuild(first);
            return new EndpointSnapshot(service, kind, 1, now, ImmutableCollectionsMarshal.AsImmutableArray(first));
        }
        ImmutableArray<Endpoint> old = current.Endpoints;
        List<Endpoint>? added = null;
        List<EndpointUpdate>? updated = null;
        List<Endpoint>? gone = null;
        List<int>? holes = null;
        Classify(old, upserted, ref added, ref updated);
        foreach (Endpoint endpoint in removed)
        {
            int at = Find(old.AsSpan(), endpoint);
            if (at >= 0 && (holes is null || !holes.Contains(at)))
            {
                (gone ??= []).Add(old[at]);
                (holes ??= []).Add(at);
            }
        }
        if (added is null && updated is null && gone is null)
        {
            return null;
        }

        int kept = old.Length - (holes?.Count ?? 0);
        var next = new Endpoint[kept + (added?.Count ?? 0)];
        old.AsSpan(0, kept).CopyTo(next);
        foreach (Endpoint endpoint in gone ?? [])
        {
            _index.Remove(old.AsSpan(), endpoint);
        }
        if (holes is not null)
        {
            int hole = 0;
            for (int i = kept; i < old.Length; i++)
            {
                if (holes.Contains(i))
                {
                    continue; // removed itself
                }
                while (holes[hole] >= kept)
                {
                    hole++; // a removal in the tail leaves no hole to fill
                }
                int at = holes[hole++];
                next[at] = old[i];
                // Found in old: the slots of those moved already point at removed endpoints there, none with this address.
                _index.Move(old.AsSpan(), old[i], at);
            }
        }
        int count = kept;
        foreach (EndpointUpdate update in updated ?? [])
        {
            int at = Find(next.AsSpan(0, count), update.Current);
            next[at] = update.Current; // the same host and port at the same position: the index holds no key to change
        }
        _index.Reserve(next.AsSpan(0, count), next.Length);
        foreach (Endpoint endpoint in added ?? [])
        {
            _index.Add(endpoint, count);
            next[count++] = endpoint;
        }
        var changes = new EndpointChanges([.. added ?? []], [.. updated ?? []], [.. gone ?? []]);
        return new EndpointSnapshot(service, kind, current.Version + 1, now, ImmutableCollectionsMarshal.AsImmutableArray(next), changes);
    }

    /// <summary>The position of the endpoint with <paramref name="endpoint"/>'s host and port in <paramref name="endpoints"/> (the current list), or -1.</summary>
    private int Find(ReadOnlySpan<Endpoint> endpoints, Endpoint endpoint) => _index.Find(endpoints, endpoint);

    // Each endpoint is added (authority not in current), updated (there, but different) or no change.
    private void Classify(ImmutableArray<Endpoint> current, IEnumerable<Endpoint> endpoints, ref List<Endpoint>? added, ref List<EndpointUpdate>? updated)
    {
        foreach (Endpoint endpoint in endpoints)
        {
            int at = Find(current.AsSpan(), endpoint);
            if (at < 0)
            {
                (added ??= []).Add(endpoint);
            }
            else if (!current[at].Equals(endpoint))
            {
                (updated ??= []).Add(new EndpointUpdate(current[at], endpoint));
            }
        }
    }

    // Order-insensitive: a DNS server rotating its records, or an API listing slices in another order, is no change.
    private EndpointChanges Diff(ImmutableArray<Endpoint> current, List<Endpoint> next, PositionTable<Endpoint, SelfAddress> nextIndex)
    {
        List<Endpoint>? added = null;
        List<EndpointUpdate>? updated = null;
        List<Endpoint>? removed = null;
        Classify(current, next, ref added, ref updated);
        foreach (Endpoint endpoint in current)
        {
            if (nextIndex.Find(CollectionsMarshal.AsSpan(next), endpoint) < 0)
            {
                (removed ??= []).Add(endpoint);
            }
        }
        return new EndpointChanges([.. added ?? []], [.. updated ?? []], [.. removed ?? []]);
    }
}
