using System.Text.Json;

namespace ClientLb.Kubernetes.Model;

/// <summary>
/// One string per recently seen short name (node and zone names, which repeat in every endpoint of every slice event):
/// a fixed table indexed by a hash of the UTF-8 bytes, a hit compared byte by byte, a miss replacing the entry. Lock
/// free (an entry is immutable and replaced whole) and bounded (<see cref="Size"/> entries of names up to
/// <see cref="MaxBytes"/> bytes), so a cluster of many nodes costs at most the table.
/// </summary>
internal sealed class Utf8Names
{
    private const int Size = 1024;
    private const int MaxBytes = 128;
    private readonly Entry?[] _entries = new Entry?[Size];

    /// <summary>The string of the reader's current string token.</summary>
    public string Get(ref Utf8JsonReader reader)
    {
        if (reader.HasValueSequence || reader.ValueIsEscaped || reader.ValueSpan.Length > MaxBytes)
        {
            return reader.GetString()!;
        }
        ReadOnlySpan<byte> utf8 = reader.ValueSpan;
        int slot = (int)(Fnv1a(utf8) & (Size - 1));
        Entry? entry = Volatile.Read(ref _entries[slot]);
        if (entry is not null && utf8.SequenceEqual(entry.Utf8))
        {
            return entry.Text;
        }
        string text = reader.GetString()!; // validates the UTF-8 as the serializer does
        Volatile.Write(ref _entries[slot], new Entry(utf8.ToArray(), text));
        return text;
    }

    // A fixed hash (not HashCode's per-process seed): which names share a slot is the same in every run. A crafted
    // collision only costs a miss (a new string), never a wrong one: a hit compares the bytes.
    private static uint Fnv1a(ReadOnlySpan<byte> utf8)
    {
        uint hash = 2166136261;
        foreach (byte b in utf8)
        {
            hash = (hash ^ b) * 16777619;
        }
        return hash ^ (hash >> 16);
    }

    private sealed record Entry(byte[] Utf8, string Text);
}
