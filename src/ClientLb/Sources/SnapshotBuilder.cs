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
    // Host and port -> position in the current snapshot's endpoints, replaced with every new snapshot; null while the list is
    // shorter than IndexThreshold, where a scan is as fast and a process watching thousands of small services saves the memory.
    private Dictionary<Endpoint, int>? _index;
    private const int IndexThreshold = 16;

    /// <summary>The endpoints with distinct hosts and ports (the first of each wins), and where each is in that list.</summary>
    public static (List<Endpoint> List, Dictionary<Endpoint, int> Index) Distinct(IEnumerable<Endpoint> endpoints)
    {
        var list = new List<Endpoint>();
        var index = new Dictionary<Endpoint, int>(Endpoint.AddressComparer);
        foreach (Endpoint endpoint in endpoints)
        {
            if (index.TryAdd(endpoint, list.Count))
            {
                list.Add(endpoint);
            }
        }
        return (list, index);
    }

    /// <summary>
    /// The snapshot that replaces <paramref name="current"/> with <paramref name="list"/> (from <see cref="Distinct"/>), or
    /// null when the list holds the same endpoints in any order.
    /// </summary>
    public EndpointSnapshot? Replace(EndpointSnapshot? current, List<Endpoint> list, Dictionary<Endpoint, int> index, DateTimeOffset now)
    {
        EndpointChanges? changes = current is null ? null : Diff(current.Endpoints, list, index);
        if (changes is { Count: 0 })
        {
            return null;
        }
        if (list.Count >= IndexThreshold)
        {
            index.TrimExcess(); // it grew by doubling; kept for the life of the snapshot
            _index = index;
        }
        else
        {
            _index = null;
        }
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
            _index = IndexOf(first);
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
            _index?.Remove(endpoint);
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
                _index?[old[i]] = at;
            }
        }
        int count = kept;
        foreach (EndpointUpdate update in updated ?? [])
        {
            int at = Find(next.AsSpan(0, count), update.Current);
            next[at] = update.Current;
            if (_index is not null)
            {
                // Keyed by the new object, so the replaced endpoint is not kept alive by the key.
                _index.Remove(update.Current);
                _index.Add(update.Current, at);
            }
        }
        foreach (Endpoint endpoint in added ?? [])
        {
            _index?[endpoint] = count;
            next[count++] = endpoint;
        }
        _index = count < IndexThreshold ? null : _index ?? IndexOf(next);
        var changes = new EndpointChanges([.. added ?? []], [.. updated ?? []], [.. gone ?? []]);
        return new EndpointSnapshot(service, kind, current.Version + 1, now, ImmutableCollectionsMarshal.AsImmutableArray(next), changes);
    }

    /// <summary>The position of the endpoint with <paramref name="endpoint"/>'s host and port in <paramref name="endpoints"/> (the current list), or -1.</summary>
    private int Find(ReadOnlySpan<Endpoint> endpoints, Endpoint endpoint)
    {
        if (_index is not null)
        {
            return _index.TryGetValue(endpoint, out int at) ? at : -1;
        }
        for (int i = 0; i < endpoints.Length; i++)
        {
            if (endpoints[i].SameAddress(endpoint))
            {
                return i;
            }
        }
        return -1;
    }

    private static Dictionary<Endpoint, int>? IndexOf(Endpoint[] endpoints)
    {
        if (endpoints.Length < IndexThreshold)
        {
            return null;
        }
        var index = new Dictionary<Endpoint, int>(endpoints.Length, Endpoint.AddressComparer);
        for (int i = 0; i < endpoints.Length; i++)
        {
            index[endpoints[i]] = i;
        }
        return index;
    }

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
    private EndpointChanges Diff(ImmutableArray<Endpoint> current, List<Endpoint> next, Dictionary<Endpoint, int> nextIndex)
    {
        List<Endpoint>? added = null;
        List<EndpointUpdate>? updated = null;
        List<Endpoint>? removed = null;
        Classify(current, next, ref added, ref updated);
        foreach (Endpoint endpoint in current)
        {
            if (!nextIndex.ContainsKey(endpoint))
            {
                (removed ??= []).Add(endpoint);
            }
        }
        return new EndpointChanges([.. added ?? []], [.. updated ?? []], [.. removed ?? []]);
    }
}
