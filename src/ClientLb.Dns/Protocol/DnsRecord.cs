namespace ClientLb.Dns.Protocol;

/// <summary>
/// A resource record (RFC 1035 §4.1.3). The set of subtypes is closed: A, AAAA, CNAME, SRV, SOA, TXT,
/// and <see cref="DnsUnknownRecord"/> for every other type (kept as raw RDATA, RFC 3597).
/// </summary>
/// <param name="Name">The owner name, without the trailing dot.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
internal abstract record DnsRecord(string Name, uint Ttl)
{
    /// <summary>The record class; <see cref="DnsClass.IN"/> unless set.</summary>
    public DnsClass Class { get; init; } = DnsClass.IN;

    /// <summary>The record type.</summary>
    public abstract DnsRecordType Type { get; }

    /// <summary>Writes the RDATA (without RDLENGTH).</summary>
    internal abstract void WriteData(DnsMessageWriter writer);

    /// <summary>Reads the RDATA of <paramref name="type"/> occupying <paramref name="length"/> bytes at the reader's position.</summary>
    internal static DnsRecord ReadData(ref DnsMessageReader reader, string name, DnsRecordType type, DnsClass @class, uint ttl, int length, string field)
    {
        int start = reader.Position;
        int end = start + length;
        string dataField = field + ".rdata";
        DnsRecord record = type switch
        {
            DnsRecordType.A => DnsARecord.Read(ref reader, name, ttl, length, dataField),
            DnsRecordType.AAAA => DnsAaaaRecord.Read(ref reader, name, ttl, length, dataField),
            DnsRecordType.CNAME => new DnsCnameRecord(name, ttl, reader.ReadName(dataField + ".target")),
            DnsRecordType.SRV => DnsSrvRecord.Read(ref reader, name, ttl, dataField),
            DnsRecordType.SOA => DnsSoaRecord.Read(ref reader, name, ttl, dataField),
            DnsRecordType.TXT => DnsTxtRecord.Read(ref reader, name, ttl, end, dataField),
            _ => new DnsUnknownRecord(name, ttl, type, reader.ReadBytes(length, dataField).ToArray()),
        };
        if (reader.Position != end)
        {
            throw new DnsFormatException(dataField, start, $"the {type} data is {reader.Position - start} bytes but RDLENGTH says {length}");
        }
        return record with { Class = @class };
    }
}
