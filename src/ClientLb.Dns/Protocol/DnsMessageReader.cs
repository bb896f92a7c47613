using System.Buffers.Binary;
using System.Text;

namespace ClientLb.Dns.Protocol;

/// <summary>
/// Reads a DNS message with a bounds check on every field. Any problem throws <see cref="DnsFormatException"/>
/// naming the field and offset; nothing reads outside the span, loops, or allocates more than the input justifies.
/// </summary>
internal ref struct DnsMessageReader
{
    // A name spans at most 127 labels; pointers are also forced strictly backwards, so this is only a cheap second guard.
    private const int MaxPointerHops = 127;

    private readonly ReadOnlySpan<byte> _message;

    public DnsMessageReader(ReadOnlySpan<byte> message)
    {
        _message = message;
        Position = 0;
    }

    public int Position { get; set; }

    public readonly int Length => _message.Length;

    public readonly int Remaining => _message.Length - Position;

    public byte ReadByte(string field)
    {
        Require(1, field);
        return _message[Position++];
    }

    public ushort ReadUInt16(string field)
    {
        Require(2, field);
        ushort value = BinaryPrimitives.ReadUInt16BigEndian(_message[Position..]);
        Position += 2;
        return value;
    }

    public uint ReadUInt32(string field)
    {
        Require(4, field);
        uint value = BinaryPrimitives.ReadUInt32BigEndian(_message[Position..]);
        Position += 4;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes(int count, string field)
    {
        Require(count, field);
        ReadOnlySpan<byte> bytes = _message.Slice(Position, count);
        Position += count;
        return bytes;
    }

    /// <summary>Reads a possibly compressed name (RFC 1035 §4.1.4).</summary>
    public string ReadName(string field)
    {
        int start = Position;
        int pos = Position;
        int segmentStart = Position;
        int resumeAt = -1;
        int wireLength = 1;
        int hops = 0;
        StringBuilder? text = null;
        while (true)
        {
            if (pos >= _message.Length)
            {
                throw new DnsFormatException(field, pos, $"the name runs past the end of the message ({_message.Length} bytes)");
            }
            byte b = _message[pos];
            switch (b & 0xC0)
            {
                case 0x00:
                    if (b == 0)
                    {
                        Position = resumeAt >= 0 ? resumeAt : pos + 1;
                        return text is null ? DnsName.Root : text.ToString();
                    }
                    if (pos + 1 + b > _message.Length)
                    {
                        throw new DnsFormatException(field, pos, $"a label of {b} bytes runs past the end of the message ({_message.Length} bytes)");
                    }
                    wireLength += 1 + b;
                    if (wireLength > DnsName.MaxWireLength)
                    {
                        throw new DnsFormatException(field, start, $"the name is longer than {DnsName.MaxWireLength} bytes");
                    }
                    text ??= new StringBuilder(64);
                    if (text.Length > 0)
                    {
                        text.Append('.');
                    }
                    DnsName.AppendLabel(text, _message.Slice(pos + 1, b));
                    pos += 1 + b;
                    break;
                case 0xC0:
                    if (pos + 1 >= _message.Length)
                    {
                        throw new DnsFormatException(field, pos, "the compression pointer is cut off by the end of the message");
                    }
                    int target = ((b & 0x3F) << 8) | _message[pos + 1];
                    // A real encoder only points at names written earlier; requiring each jump to land before the
                    // current run makes loops (self, mutual, forward) impossible rather than merely detected.
                    if (target >= segmentStart)
                    {
                        throw new DnsFormatException(field, pos, $"the compression pointer to offset {target} does not point backwards (a loop or forward reference)");
                    }
                    if (++hops > MaxPointerHops)
                    {
                        throw new DnsFormatException(field, pos, $"the name follows more than {MaxPointerHops} compression pointers");
                    }
                    if (resumeAt < 0)
                    {
                        resumeAt = pos + 2;
                    }
                    segmentStart = target;
                    pos = target;
                    break;
                default:
                    throw new DnsFormatException(field, pos, $"the label type 0x{b & 0xC0:X2} is not supported (only plain labels and pointers are)");
            }
        }
    }

    private readonly void Require(int count, string field)
    {
        if (count > _message.Length - Position)
        {
            throw new DnsFormatException(field, Position, $"needs {count} bytes but only {_message.Length - Position} remain");
        }
    }
}
