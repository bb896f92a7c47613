using System.Runtime.InteropServices;

namespace ClientLb.Balancing.Policies;

/// <summary>
/// A counter every pick writes, on a cache line of its own: 64 bytes of padding on either side (the line size of x64 and
/// most arm64). A picker keeps it as a field, so the picker's other fields, which every pick reads, stay in each core's
/// cache while another core writes the counter (docs/performance.md, picks on two threads).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 132)]
internal struct PaddedCounter(int value)
{
    /// <summary>The count (update it with <see cref="Interlocked"/>).</summary>
    [FieldOffset(64)]
    public int Value = value;
}
