using System.Buffers.Binary;

namespace ClientLb.Dns.Protocol;

/// <summary>
/// Writes a DNS message into a growing buffer, with name compression (RFC 1035 §4.1.4) for the names where
/// it is allowed. Used for queries by the client and for responses by servers built on this library.
/// </summary>
internal sealed class DnsMessageWriter
{
    /// <summary>The largest message a TCP length prefix can carry.</summary>
    public const int MaxMessageSize = ushort.MaxValue;

    // Offsets above 0x3FFF cannot be the target of a 14-bit pointer.
    private const int MaxPointerTarget = 0x3FFF;

    private readonly Dictionary<string, int> _suffixes = new(StringComparer.OrdinalIgnoreCase);
    private byte[] _buffer = new byte[512];

    public int Position { get; private set; }

    public void WriteByte(byte value) => Reserve(1)[0] = value;

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);

    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

    /// <summary>Overwrites a 16-bit value written earlier (RDLENGTH, section counts).</summary>
    public void PatchUInt16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(offset, 2), value);

    /// <summary>Writes a name; when <paramref name="compress"/> is false (SRV targets, RFC 2782) the name is written whole but still offered for later pointers.</summary>
    public void WriteName(string name, bool compress = true)
    {
        List<byte[]> labels = DnsName.ToLabels(name);
        string normalized = DnsName.Normalize(name);
        int suffixStart = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            string suffix = i == 0 ? normalized : normalized[suffixStart..];
            if (compress && _suffixes.TryGetValue(suffix, out int pointer))
            {
                WriteUInt16((ushort)(0xC000 | pointer));
                return;
            }
            if (Position <= MaxPointerTarget)
            {
                _suffixes.TryAdd(suffix, Position);
            }
            WriteByte((byte)labels[i].Length);
            WriteBytes(labels[i]);
            suffixStart = NextLabelStart(normalized, suffixStart);
        }
        WriteByte(0);
    }

    public byte[] ToArray() => _buffer.AsSpan(0, Position).ToArray();

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Position);

    private Span<byte> Reserve(int count)
    {
        if (Position + count > MaxMessageSize)
        {
            throw new InvalidOperationException($"The DNS message would exceed {MaxMessageSize} bytes, the most any transport can carry.");
        }
        if (Position + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Min(MaxMessageSize, Math.Max(_buffer.Length * 2, Position + count)));
        }
        Span<byte> span = _buffer.AsSpan(Position, count);
        Position += count;
        return span;
    }

    // The text index just past the next unescaped dot.
    private static int NextLabelStart(string name, int from)
    {
        for (int i = from; i < name.Length; i++)
        {
            if (name[i] == '\\')
            {
                i++;
            }
            else if (name[i] == '.')
            {
                return i + 1;
            }
        }
        return name.Length;
    }
}
