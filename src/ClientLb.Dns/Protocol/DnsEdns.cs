namespace ClientLb.Dns.Protocol;

/// <summary>EDNS(0) data carried by the OPT pseudo-record (RFC 6891).</summary>
/// <param name="UdpPayloadSize">The largest UDP payload the sender can receive (the OPT CLASS field).</param>
/// <param name="Version">The EDNS version (0).</param>
/// <param name="DnssecOk">The DO bit.</param>
/// <param name="Options">The options, as code and raw data.</param>
internal sealed record DnsEdns(ushort UdpPayloadSize, byte Version = 0, bool DnssecOk = false, IReadOnlyList<DnsEdnsOption>? Options = null)
{
    /// <summary>The payload size recommended by DNS Flag Day 2020: avoids IP fragmentation on common paths.</summary>
    public const ushort RecommendedUdpPayloadSize = 1232;

    /// <summary>The options (never null).</summary>
    public IReadOnlyList<DnsEdnsOption> Options { get; init; } = Options ?? [];

    /// <summary>Writes the OPT record; the upper 8 bits of <paramref name="responseCode"/> go in its TTL field.</summary>
    internal void Write(DnsMessageWriter writer, DnsResponseCode responseCode)
    {
        writer.WriteByte(0);
        writer.WriteUInt16((ushort)DnsRecordType.OPT);
        writer.WriteUInt16(UdpPayloadSize);
        writer.WriteByte((byte)((ushort)responseCode >> 4));
        writer.WriteByte(Version);
        writer.WriteUInt16(DnssecOk ? (ushort)0x8000 : (ushort)0);
        int lengthAt = writer.Position;
        writer.WriteUInt16(0);
        foreach (DnsEdnsOption option in Options)
        {
            writer.WriteUInt16(option.Code);
            writer.WriteUInt16(checked((ushort)option.Data.Length));
            writer.WriteBytes(option.Data.Span);
        }
        writer.PatchUInt16(lengthAt, (ushort)(writer.Position - lengthAt - 2));
    }

    /// <summary>Reads the OPT record after its owner name and type; returns the EDNS data and the upper response-code bits.</summary>
    internal static DnsEdns Read(ref DnsMessageReader reader, string field, out byte extendedResponseCode)
    {
        ushort payload = reader.ReadUInt16(field + ".udp-payload-size");
        extendedResponseCode = reader.ReadByte(field + ".extended-rcode");
        byte version = reader.ReadByte(field + ".version");
        ushort flags = reader.ReadUInt16(field + ".flags");
        ushort length = reader.ReadUInt16(field + ".rdlength");
        int end = reader.Position + length;
        if (end > reader.Length)
        {
            throw new DnsFormatException(field + ".rdlength", reader.Position - 2, $"RDLENGTH {length} runs past the end of the message ({reader.Remaining} bytes left)");
        }
        var options = new List<DnsEdnsOption>();
        while (reader.Position < end)
        {
            ushort code = reader.ReadUInt16(field + ".option.code");
            ushort optionLength = reader.ReadUInt16(field + ".option.length");
            if (reader.Position + optionLength > end)
            {
                throw new DnsFormatException(field + ".option", reader.Position - 4, $"option {code} of {optionLength} bytes runs past the end of the OPT data");
            }
            options.Add(new DnsEdnsOption(code, reader.ReadBytes(optionLength, field + ".option.data").ToArray()));
        }
        if (reader.Position != end)
        {
            throw new DnsFormatException(field, reader.Position, "the options do not fill RDLENGTH exactly");
        }
        return new DnsEdns(payload, version, (flags & 0x8000) != 0, options);
    }
}

/// <summary>One EDNS option (RFC 6891 §6.1.2).</summary>
/// <param name="Code">The option code.</param>
/// <param name="Data">The option data.</param>
internal readonly record struct DnsEdnsOption(ushort Code, ReadOnlyMemory<byte> Data);
