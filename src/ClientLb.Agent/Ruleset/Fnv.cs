namespace ClientLb.Agent.Ruleset;

/// <summary>
/// FNV-1a, 64 bits, over UTF-16 code units: a stable hash (the same in every process and build, unlike
/// <see cref="string.GetHashCode()"/>) for the markers a restart compares with what the kernel holds.
/// </summary>
internal static class Fnv
{
    public const ulong Offset = 14695981039346656037;

    private const ulong Prime = 1099511628211;

    /// <summary>Hashes <paramref name="text"/> and a line end after it.</summary>
    public static ulong Hash(ulong hash, string text) => (Append(hash, text) ^ '\n') * Prime;

    /// <summary>Hashes <paramref name="text"/> alone: <c>Hash(Append(h, a), b)</c> equals <c>Hash(h, a + b)</c>.</summary>
    public static ulong Append(ulong hash, ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            hash = (hash ^ (byte)c) * Prime;
            hash = (hash ^ (byte)(c >> 8)) * Prime;
        }
        return hash;
    }
}
