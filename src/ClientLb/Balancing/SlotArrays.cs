namespace ClientLb.Balancing;

/// <summary>
/// The balancer's endpoint arrays, in which every endpoint knows its index: <see cref="BalancedEndpoint.Slot"/> in the
/// eligible array, <see cref="BalancedEndpoint.LocalSlot"/> in the topology level's candidates. An array is never written
/// once a picker holds it; a change makes an edited copy.
/// </summary>
internal static class SlotArrays
{
    /// <summary>Whether <paramref name="endpoint"/> is in <paramref name="eligible"/>, by its slot: O(1).</summary>
    public static bool Contains(BalancedEndpoint[] eligible, BalancedEndpoint endpoint) =>
        (uint)endpoint.Slot < (uint)eligible.Length && ReferenceEquals(eligible[endpoint.Slot], endpoint);

    /// <summary>
    /// A copy of <paramref name="current"/> with the leavers taken out and the joiners appended, keeping each endpoint's
    /// slot equal to its index. The copy has its final length from the start (one O(N) copy, no resize): the endpoints kept
    /// from the tail fill the holes the leavers leave in the head.
    /// </summary>
    public static BalancedEndpoint[] Edit(BalancedEndpoint[] current, List<BalancedEndpoint>? leaving, List<BalancedEndpoint>? joining, bool local = false)
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
}
