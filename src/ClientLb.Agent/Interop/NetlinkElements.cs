using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.Interop;

/// <summary>
/// Encodes a transaction made only of <c>add element</c> / <c>delete element</c> commands on the layout's sets (what every
/// sync but the first sends) as one nfnetlink batch, in the kernel's own element encoding (<see cref="Layout.Parts"/>).
/// libnftables spends ~5 us of parsing and evaluation per element and loads its cache of the whole ruleset before every
/// command; the kernel needs neither. Anything else (a skeleton, a rule, a name or value this does not recognize) is left
/// to libnftables: <see cref="TryEncode"/> returns false and nothing of the text is lost.
/// </summary>
internal sealed class NetlinkElements
{
    // nfnetlink and nf_tables uapi constants (linux/netfilter/nfnetlink.h, nf_tables.h).
    private const ushort BatchBegin = 0x10, BatchEnd = 0x11;
    private const byte SubsystemNftables = 10;
    private const byte NewSetElement = 12, DeleteSetElement = 14;
    private const ushort Request = 0x1, Ack = 0x4, Create = 0x400;
    private const ushort Nested = 0x8000;
    private const ushort ListTable = 1, ListSet = 2, ListElements = 3, ListElement = 1;
    private const ushort ElementKey = 1, ElementData = 2, ElementKeyEnd = 10, DataValue = 1;
    private const byte ProtoIpv4 = 2, ProtoIpv6 = 10;

    /// <summary>An attribute's length is 16 bits: a message's element list stays below this many bytes.</summary>
    private const int MaxListBytes = 60_000;

    private byte[] _buffer = new byte[64 * 1024];
    private readonly byte[] _key = new byte[64];
    private readonly byte[] _keyEnd = new byte[64];
    private readonly byte[] _data = new byte[64];
    private uint _sequence = (uint)Environment.TickCount;

    /// <summary>The encoded batch (begin, element messages, end).</summary>
    public ReadOnlySpan<byte> Batch => _buffer.AsSpan(0, Length);

    /// <summary>Bytes of <see cref="Batch"/>.</summary>
    public int Length { get; private set; }

    /// <summary>The element messages of the batch, each acknowledged by the kernel: sequence number and its command words.</summary>
    public List<(uint Sequence, string Command)> Messages { get; } = [];

    /// <summary>The sequence number of the batch-begin message (a batch the kernel refuses as a whole is answered on it).</summary>
    public uint BeginSequence { get; private set; }

    /// <summary>The command of the element message with <paramref name="sequence"/>, null when it is not one of this batch's.</summary>
    public string? CommandOf(uint sequence)
    {
        uint index = sequence - (Messages.Count > 0 ? Messages[0].Sequence : 0);
        return Messages.Count > 0 && index < (uint)Messages.Count ? Messages[(int)index].Command : null;
    }

    /// <summary>Encodes <paramref name="commands"/>; false (and nothing encoded) when it is not an element-only transaction.</summary>
    public bool TryEncode(string commands)
    {
        Length = 0;
        Messages.Clear();
        BeginSequence = ++_sequence;
        WriteHeader(BatchBegin, Request, BeginSequence, family: 0, resourceId: SubsystemNftables);
        bool any = false;
        int line = 0;
        while (line < commands.Length)
        {
            int end = commands.IndexOf('\n', line);
            if (end < 0)
            {
                end = commands.Length;
            }
            ReadOnlySpan<char> text = commands.AsSpan(line, end - line);
            line = end + 1;
            if (text.IsEmpty)
            {
                continue;
            }
            if (!TryEncodeCommand(text))
            {
                Length = 0;
                Messages.Clear();
                return false;
            }
            any = true;
        }
        WriteHeader(BatchEnd, Request, ++_sequence, family: 0, resourceId: SubsystemNftables);
        if (!any)
        {
            Length = 0;
        }
        return any;
    }

    private bool TryEncodeCommand(ReadOnlySpan<char> text)
    {
        bool add;
        if (text.StartsWith("add element "))
        {
            add = true;
            text = text["add element ".Length..];
        }
        else if (text.StartsWith("delete element "))
        {
            add = false;
            text = text["delete element ".Length..];
        }
        else
        {
            return false;
        }
        Family family;
        if (text.StartsWith(Family.V4.Table + " "))
        {
            family = Family.V4;
        }
        else if (text.StartsWith(Family.V6.Table + " "))
        {
            family = Family.V6;
        }
        else
        {
            return false;
        }
        text = text[(family.Table.Length + 1)..];
        int open = text.IndexOf(" { ");
        if (open <= 0 || !text.EndsWith(" }"))
        {
            return false;
        }
        string name = text[..open].ToString();
        if (!Skeleton.TryContainer(family, name, out Container container))
        {
            return false;
        }
        (ElementPart[] keyParts, ElementPart[] dataParts, bool interval) = Layout.Parts(container.Kind);
        ReadOnlySpan<char> elements = text[(open + 3)..^2];
        string command = (add ? "add element " : "delete element ") + family.Table + " " + name;
        int message = -1, list = -1;
        while (!elements.IsEmpty)
        {
            int comma = elements.IndexOf(", ");
            ReadOnlySpan<char> element = comma < 0 ? elements : elements[..comma];
            elements = comma < 0 ? [] : elements[(comma + 2)..];
            if (message < 0 || Length - list > MaxListBytes)
            {
                if (message >= 0)
                {
                    EndNest(list);
                    EndMessage(message);
                }
                uint sequence = ++_sequence;
                Messages.Add((sequence, command));
                message = WriteHeader((ushort)((SubsystemNftables << 8) | (add ? NewSetElement : DeleteSetElement)),
                    (ushort)(Request | Ack | (add ? Create : 0)), sequence, family == Family.V4 ? ProtoIpv4 : ProtoIpv6, resourceId: 0);
                PutString(ListTable, Layout.TableName);
                PutString(ListSet, name);
                list = BeginNest(ListElements);
            }
            if (!TryEncodeElement(element, family, keyParts, dataParts, interval, add))
            {
                return false;
            }
        }
        if (message < 0)
        {
            return false;
        }
        EndNest(list);
        EndMessage(message);
        return true;
    }

    private bool TryEncodeElement(ReadOnlySpan<char> element, Family family, ElementPart[] keyParts, ElementPart[] dataParts, bool interval, bool add)
    {
        int colon = element.IndexOf(" : ");
        ReadOnlySpan<char> key = colon < 0 ? element : element[..colon];
        if ((colon >= 0) != (dataParts.Length > 0) ||
            !TryEncodeValue(key, family, keyParts, interval, _key, _keyEnd, out int keyLength))
        {
            return false;
        }
        int dataLength = 0;
        if (colon >= 0 && !TryEncodeValue(element[(colon + 3)..], family, dataParts, interval: false, _data, null, out dataLength))
        {
            return false;
        }
        int item = BeginNest(ListElement);
        int nest = BeginNest(ElementKey);
        PutBytes(DataValue, _key.AsSpan(0, keyLength));
        EndNest(nest);
        if (interval)
        {
            nest = BeginNest(ElementKeyEnd);
            PutBytes(DataValue, _keyEnd.AsSpan(0, keyLength));
            EndNest(nest);
        }
        if (add && dataLength > 0)
        {
            nest = BeginNest(ElementData);
            PutBytes(DataValue, _data.AsSpan(0, dataLength));
            EndNest(nest);
        }
        EndNest(item);
        return true;
    }

    /// <summary>
    /// Components separated by <c> . </c>, each padded to 4 bytes as the kernel's registers hold them. In an interval set
    /// the last component may be <c>low-high</c> (<paramref name="end"/> gets the high end; the low one otherwise), and its
    /// host-order integers are stored in network order, as nft converts them for concatenated ranges.
    /// </summary>
    private static bool TryEncodeValue(ReadOnlySpan<char> text, Family family, ElementPart[] parts, bool interval, byte[] start, byte[]? end, out int length)
    {
        length = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            int dot = text.IndexOf(" . ");
            if ((dot < 0) != (i == parts.Length - 1))
            {
                return false;
            }
            ReadOnlySpan<char> part = dot < 0 ? text : text[..dot];
            text = dot < 0 ? [] : text[(dot + 3)..];
            Span<byte> low = start.AsSpan(length);
            int size;
            switch (parts[i])
            {
                case ElementPart.Address:
                    if (!IPAddress.TryParse(part, out IPAddress? address) || address.AddressFamily != family.AddressFamily ||
                        !address.TryWriteBytes(low, out size))
                    {
                        return false;
                    }
                    break;
                case ElementPart.Protocol:
                    byte protocol = part switch { "tcp" => 6, "udp" => 17, "sctp" => 132, _ => 0 };
                    if (protocol == 0)
                    {
                        return false;
                    }
                    low[..4].Clear();
                    low[0] = protocol;
                    size = 4;
                    break;
                case ElementPart.Service:
                    if (!ushort.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
                    {
                        return false;
                    }
                    low[..4].Clear();
                    BinaryPrimitives.WriteUInt16BigEndian(low, port);
                    size = 4;
                    break;
                default:
                    int dash = interval && i == parts.Length - 1 ? part.IndexOf('-') : -1;
                    if (!uint.TryParse(dash < 0 ? part : part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out uint first) ||
                        !uint.TryParse(dash < 0 ? part : part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out uint last) ||
                        last < first)
                    {
                        return false;
                    }
                    WriteInteger(low, first, interval);
                    if (end is not null)
                    {
                        WriteInteger(end.AsSpan(length), last, interval);
                    }
                    size = 4;
                    break;
            }
            if (end is not null && parts[i] is not (ElementPart.Integer or ElementPart.Mark))
            {
                low[..size].CopyTo(end.AsSpan(length));
            }
            length += size;
        }
        return true;
    }

    private static void WriteInteger(Span<byte> target, uint value, bool networkOrder)
    {
        if (networkOrder)
        {
            BinaryPrimitives.WriteUInt32BigEndian(target, value);
        }
        else
        {
            BitConverter.TryWriteBytes(target, value);
        }
    }

    private int WriteHeader(ushort type, ushort flags, uint sequence, byte family, ushort resourceId)
    {
        int at = Reserve(20);
        Span<byte> header = _buffer.AsSpan(at, 20);
        BitConverter.TryWriteBytes(header, 20u);
        BitConverter.TryWriteBytes(header[4..], type);
        BitConverter.TryWriteBytes(header[6..], flags);
        BitConverter.TryWriteBytes(header[8..], sequence);
        BitConverter.TryWriteBytes(header[12..], 0u);
        header[16] = family;
        header[17] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[18..], resourceId);
        return at;
    }

    private void EndMessage(int at) => BitConverter.TryWriteBytes(_buffer.AsSpan(at), (uint)(Length - at));

    private int BeginNest(ushort type)
    {
        int at = Reserve(4);
        BitConverter.TryWriteBytes(_buffer.AsSpan(at + 2), (ushort)(type | Nested));
        return at;
    }

    private void EndNest(int at) => BitConverter.TryWriteBytes(_buffer.AsSpan(at), (ushort)(Length - at));

    private void PutBytes(ushort type, ReadOnlySpan<byte> value)
    {
        int at = Reserve(4 + Align(value.Length));
        Span<byte> attribute = _buffer.AsSpan(at, 4 + Align(value.Length));
        BitConverter.TryWriteBytes(attribute, (ushort)(4 + value.Length));
        BitConverter.TryWriteBytes(attribute[2..], type);
        value.CopyTo(attribute[4..]);
        attribute[(4 + value.Length)..].Clear();
    }

    private void PutString(ushort type, string value)
    {
        Span<byte> bytes = stackalloc byte[value.Length + 1];
        for (int i = 0; i < value.Length; i++)
        {
            bytes[i] = (byte)value[i]; // the layout's names: ASCII letters, digits and '-'
        }
        bytes[^1] = 0;
        PutBytes(type, bytes);
    }

    private int Reserve(int bytes)
    {
        if (Length + bytes > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + bytes));
        }
        int at = Length;
        Length += bytes;
        return at;
    }

    private static int Align(int length) => (length + 3) & ~3;
}
