namespace ClientLb.Balancing.Policies;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M &gt; 100 x endpoints that each
/// endpoint fills in turn along its own permutation (offset + j x skip mod M, both from a stable hash of its address).
/// Every endpoint owns M/N slots within one; adding or removing one endpoint moves about 1/N of the keys, as long as
/// M stays the same: M is taken from a fixed ladder of primes (about doubling), so it changes only when the endpoint
/// count crosses a step, and <see cref="HashPolicy"/> never shrinks it for a service.
/// </summary>
internal sealed class MaglevTable
{
    /// <summary>Primes just above powers of two, from 1031 (up to 10 endpoints) to 16 777 259 (up to 167 772).</summary>
    private static readonly int[] Sizes = [1031, 2053, 4099, 8209, 16411, 32771, 65537, 131101, 262147, 524309, 1048583, 2097169, 4194319, 8388617, 16777259];

    private readonly int[] _slots;

    /// <summary>The smallest table size over 100 x <paramref name="endpoints"/> and at least <paramref name="atLeast"/>.</summary>
    public static int SizeFor(int endpoints, int atLeast = 0)
    {
        foreach (int size in Sizes)
        {
            if (size > 100L * endpoints && size >= atLeast)
            {
                return size;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(endpoints), endpoints, "Too many endpoints for a Maglev table.");
    }

    public MaglevTable(IReadOnlyList<string> names, int size = 0)
    {
        int n = names.Count;
        size = size == 0 ? SizeFor(n) : size;
        // Each endpoint walks its permutation offset, offset + skip, offset + 2 skip, ... (mod size); positions advance by
        // an addition and a conditional subtraction, so filling the table does no division.
        int[] position = new int[n];
        int[] skip = new int[n];
        // Endpoints take their turns in the order of their names, not in the order given: every client builds the same
        // table from the same endpoints however its source delivered them, and an endpoint added or removed changes the
        // turns of no other.
        int[] turns = new int[n];
        for (int i = 0; i < n; i++)
        {
            ulong h = AffinityKey.Hash(names[i]);
            position[i] = (int)(h % (ulong)size);
            skip[i] = (int)(AffinityKey.Mix(h ^ 0x9e3779b97f4a7c15UL) % (ulong)(size - 1)) + 1;
            turns[i] = i;
        }
        Array.Sort(turns, (a, b) => string.CompareOrdinal(names[a], names[b]));
        int[] slots = new int[size];
        Array.Fill(slots, -1);
        int filled = 0;
        while (true)
        {
            foreach (int i in turns)
            {
                int candidate = position[i];
                int step = skip[i];
                while (slots[candidate] >= 0)
                {
                    candidate += step;
                    if (candidate >= size)
                    {
                        candidate -= size;
                    }
                }
                slots[candidate] = i;
                candidate += step;
                position[i] = candidate >= size ? candidate - size : candidate;
                if (++filled == size)
                {
                    _slots = slots;
                    return;
                }
            }
        }
    }

    /// <summary>The table size (a prime).</summary>
    public int Size => _slots.Length;

    /// <summary>The index of the endpoint owning table slot <paramref name="slot"/>.</summary>
    public int SlotOwner(int slot) => _slots[slot];

    /// <summary>The index of the endpoint owning <paramref name="hash"/>.</summary>
    /// <remarks>Multiply-shift range reduction of the hash's high 32 bits (Lemire): uniform, and no division.</remarks>
    public int Lookup(ulong hash) => _slots[(int)(((hash >> 32) * (ulong)(uint)_slots.Length) >> 32)];
}
