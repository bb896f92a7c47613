namespace ClientLb.Endpoints;

/// <summary>The endpoint whose host and port key an item of an array a <see cref="PositionTable{T, TAddress}"/> indexes.</summary>
internal interface IAddressOf<in T>
{
    /// <summary>The item's endpoint.</summary>
    static abstract Endpoint AddressOf(T item);
}

/// <summary>An array of endpoints is keyed by the endpoints themselves.</summary>
internal readonly struct SelfAddress : IAddressOf<Endpoint>
{
    /// <inheritdoc />
    public static Endpoint AddressOf(Endpoint item) => item;
}

/// <summary>
/// Where each item of an array its owner keeps is, by the host and port of its endpoint (<see cref="Endpoint.SameAddress"/>,
/// no text made): an open-addressing table with linear probing of positions in that array, 4 bytes a slot with at most
/// 80% of the slots used, where a <c>Dictionary&lt;Endpoint, int&gt;</c> costs ~34 bytes per endpoint (issue 18). The
/// table holds no keys: a probe reads them from the array, so every call is given the array as the held positions point
/// into it at that moment. Below <see cref="Threshold"/> items there is no table and a lookup scans the array: as fast,
/// and a process watching thousands of small services saves the memory. A removal leaves a tombstone (moving other
/// entries back would read items the owner may be moving); <see cref="Reserve"/> rebuilds once tombstones and additions
/// fill the table. A mutable struct held in one field of its owner; not thread-safe.
/// </summary>
internal struct PositionTable<T, TAddress> where TAddress : IAddressOf<T>
{
    /// <summary>From this many items on, a table; below, a scan.</summary>
    public const int Threshold = 16;

    /// <summary>The most items a table holds (positions take 24 bits of a slot).</summary>
    public const int MaxCount = (int)PositionMask;

    // A slot: 0 is empty; otherwise the low 24 bits hold the position + 1 (0 in a tombstone) and the high 8 bits a
    // fingerprint of the address's hash, so a probe passing other addresses rarely reads the array.
    private const uint PositionMask = 0x00FF_FFFF;
    private const uint Tombstone = 0xFF00_0000;

    private uint[]? _slots;
    private int _count; // positions held
    private int _used; // slots not empty: positions and tombstones

    /// <summary>How many positions the table holds; 0 while it scans.</summary>
    public readonly int Count => _count;

    /// <summary>The table's slots; 0 while it scans (tests, memory figures).</summary>
    public readonly int Capacity => _slots?.Length ?? 0;

    /// <summary>The position of the item with <paramref name="address"/>'s host and port in <paramref name="items"/>, or -1.</summary>
    public readonly int Find(ReadOnlySpan<T> items, Endpoint address)
    {
        if (_slots is null)
        {
            for (int i = 0; i < items.Length; i++)
            {
                if (TAddress.AddressOf(items[i]).SameAddress(address))
                {
                    return i;
                }
            }
            return -1;
        }
        int slot = SlotOf(items, address);
        return slot < 0 ? -1 : (int)(_slots[slot] & PositionMask) - 1;
    }

    /// <summary>
    /// Makes room for <paramref name="count"/> items, of which the table holds <paramref name="indexed"/> (position = index)
    /// now and the rest come by <see cref="Add"/>: builds the table from <paramref name="indexed"/> when it is due, grows,
    /// clears tombstones or shrinks it; below <see cref="Threshold"/> drops it (a scan from then on).
    /// </summary>
    public void Reserve(ReadOnlySpan<T> indexed, int count)
    {
        if (count < Threshold)
        {
            Clear();
            return;
        }
        if (_slots is null || _used + (count - _count) > Limit(_slots.Length) || _slots.Length > 4 * CapacityFor(count))
        {
            Build(indexed, count);
        }
    }

    /// <summary>Holds exactly <paramref name="items"/>, each at its index (a table only from <see cref="Threshold"/> items on).</summary>
    public void Rebuild(ReadOnlySpan<T> items)
    {
        if (items.Length < Threshold)
        {
            Clear();
            return;
        }
        Build(items, items.Length);
    }

    /// <summary>Shrinks a table that was given more room than it used to what <see cref="Rebuild"/> would make; it holds <paramref name="indexed"/>.</summary>
    public void TrimExcess(ReadOnlySpan<T> indexed)
    {
        if (_slots is not null && (_slots.Length > CapacityFor(_count) || _used > _count))
        {
            Rebuild(indexed);
        }
    }

    /// <summary>
    /// Holds <paramref name="position"/> for <paramref name="address"/>, which the table does not hold yet; room was made by
    /// <see cref="Reserve"/>. Nothing to do while it scans.
    /// </summary>
    public void Add(Endpoint address, int position)
    {
        if (_slots is null)
        {
            return;
        }
        if (_used >= Limit(_slots.Length) || (uint)position >= MaxCount)
        {
            throw new InvalidOperationException($"The position table has no room for position {position} ({_count} held in {_slots.Length} slots): Reserve it first.");
        }
        int hash = Endpoint.AddressComparer.GetHashCode(address);
        for (int i = Home(hash, _slots.Length); ; i = Next(i))
        {
            uint slot = _slots[i];
            if ((slot & PositionMask) == 0)
            {
                _slots[i] = Fingerprint(hash) | (uint)(position + 1);
                _count++;
                if (slot == 0)
                {
                    _used++;
                }
                return;
            }
        }
    }

    /// <summary>
    /// Forgets the item with <paramref name="address"/>'s host and port; <paramref name="items"/> are those the held positions
    /// point into. Returns whether it was held (false, and nothing to do, while the table scans).
    /// </summary>
    public bool Remove(ReadOnlySpan<T> items, Endpoint address)
    {
        int slot = _slots is null ? -1 : SlotOf(items, address);
        if (slot < 0)
        {
            return false;
        }
        // A tombstone before an empty slot ends no probe that would not end there anyway: it can be empty.
        if (_slots![Next(slot)] == 0)
        {
            _slots[slot] = 0;
            _used--;
        }
        else
        {
            _slots[slot] = Tombstone;
        }
        _count--;
        return true;
    }

    /// <summary>
    /// Moves the item with <paramref name="address"/>'s host and port to position <paramref name="to"/>; <paramref name="items"/>
    /// are those the held positions point into. Returns whether it was held (false, and nothing to do, while the table scans).
    /// </summary>
    public readonly bool Move(ReadOnlySpan<T> items, Endpoint address, int to)
    {
        int slot = _slots is null ? -1 : SlotOf(items, address);
        if (slot < 0)
        {
            return false;
        }
        if ((uint)to >= MaxCount)
        {
            throw new ArgumentOutOfRangeException(nameof(to), to, $"A position table holds positions below {MaxCount}.");
        }
        _slots![slot] = (_slots[slot] & ~PositionMask) | (uint)(to + 1);
        return true;
    }

    /// <summary>Forgets everything: a scan from now on.</summary>
    public void Clear()
    {
        _slots = null;
        _count = 0;
        _used = 0;
    }

    /// <summary>The slots for <paramref name="count"/> items: two thirds full, so some may join before it must grow.</summary>
    internal static int CapacityFor(int count) => count + count / 2 + 1;

    // At most four fifths of the slots used (tombstones count): an empty slot ends every probe, and a miss stays short.
    private static int Limit(int capacity) => capacity * 4 / 5;

    private void Build(ReadOnlySpan<T> indexed, int count)
    {
        if (count > MaxCount || indexed.Length > count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A position table holds at most {MaxCount} items, and at least the {indexed.Length} it indexes.");
        }
        int capacity = CapacityFor(count);
        if (_slots is not null && _slots.Length == capacity)
        {
            Array.Clear(_slots);
        }
        else
        {
            _slots = new uint[capacity];
        }
        _count = 0;
        _used = 0;
        for (int i = 0; i < indexed.Length; i++)
        {
            Add(TAddress.AddressOf(indexed[i]), i);
        }
    }

    // The slot holding the item with the address's host and port, or -1.
    private readonly int SlotOf(ReadOnlySpan<T> items, Endpoint address)
    {
        uint[] slots = _slots!;
        int hash = Endpoint.AddressComparer.GetHashCode(address);
        uint fingerprint = Fingerprint(hash);
        for (int i = Home(hash, slots.Length); ; i = Next(i))
        {
            uint slot = slots[i];
            if (slot == 0)
            {
                return -1;
            }
            uint position = slot & PositionMask;
            if (position != 0 && (slot & ~PositionMask) == fingerprint && TAddress.AddressOf(items[(int)position - 1]).SameAddress(address))
            {
                return i;
            }
        }
    }

    private readonly int Next(int slot) => slot + 1 == _slots!.Length ? 0 : slot + 1;

    // Any table size: the hash's high bits scaled to the length (Lemire's reduction); its low bits make the fingerprint.
    private static int Home(int hash, int length) => (int)(((ulong)(uint)hash * (uint)length) >> 32);

    private static uint Fingerprint(int hash) => (uint)hash << 24;
}
