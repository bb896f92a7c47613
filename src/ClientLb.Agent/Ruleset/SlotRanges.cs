namespace ClientLb.Agent.Ruleset;

/// <summary>
/// Splits the slot space 0..65535 (<c>numgen random mod 65536</c>) among endpoints in proportion to their weights, every
/// endpoint at least one slot. Deterministic for a given ordered list, so re-rendering an unchanged service is a no-op.
/// </summary>
internal static class SlotRanges
{
    public const int Slots = 65536;

    public static (int Low, int High)[] Split(IReadOnlyList<int> weights)
    {
        int count = weights.Count;
        if (count is 0 or > Slots)
        {
            throw new ArgumentOutOfRangeException(nameof(weights), count, "Between 1 and 65536 endpoints can share the slots.");
        }
        long remainingWeight = 0;
        foreach (int w in weights)
        {
            remainingWeight += Math.Max(1, w);
        }
        var ranges = new (int, int)[count];
        int start = 0;
        for (int i = 0; i < count; i++)
        {
            int remainingSlots = Slots - start;
            int remainingEndpoints = count - i;
            int size;
            if (remainingEndpoints == 1)
            {
                size = remainingSlots;
            }
            else
            {
                long weight = Math.Max(1, weights[i]);
                size = (int)Math.Round((double)remainingSlots * weight / remainingWeight, MidpointRounding.AwayFromZero);
                size = Math.Clamp(size, 1, remainingSlots - (remainingEndpoints - 1));
                remainingWeight -= weight;
            }
            ranges[i] = (start, start + size - 1);
            start += size;
        }
        return ranges;
    }
}
