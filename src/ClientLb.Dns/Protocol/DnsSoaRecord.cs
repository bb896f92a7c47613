namespace ClientLb.Dns.Protocol;

/// <summary>An SOA record; in a negative answer its <paramref name="Minimum"/> bounds how long the "no such name" may be cached (RFC 2308).</summary>
/// <param name="Name">The zone.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
/// <param name="PrimaryServer">MNAME.</param>
/// <param name="ResponsibleMailbox">RNAME.</param>
/// <param name="Serial">The zone serial.</param>
/// <param name="Refresh">Secondary refresh interval, seconds.</param>
/// <param name="Retry">Secondary retry interval, seconds.</param>
/// <param name="Expire">Secondary expiry, seconds.</param>
/// <param name="Minimum">The negative-caching TTL, seconds.</param>
internal sealed record DnsSoaRecord(string Name, uint Ttl, string PrimaryServer, string ResponsibleMailbox, uint Serial, uint Refresh, uint Retry, uint Expire, uint Minimum)
    : DnsRecord(Name, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.SOA;

    /// <summary>The negative-caching TTL of a response carrying this SOA: the lesser of its TTL and MINIMUM (RFC 2308 §5).</summary>
    public uint NegativeTtl => Math.Min(Ttl, Minimum);

    internal override void WriteData(DnsMessageWriter writer)
    {
        writer.WriteName(PrimaryServer);
        writer.WriteName(ResponsibleMailbox);
        writer.WriteUInt32(Serial);
        writer.WriteUInt32(Refresh);
        writer.WriteUInt32(Retry);
        writer.WriteUInt32(Expire);
        writer.WriteUInt32(Minimum);
    }

    internal static DnsSoaRecord Read(ref DnsMessageReader reader, string name, uint ttl, string field) =>
        new(name, ttl, reader.ReadName(field + ".mname"), reader.ReadName(field + ".rname"), reader.ReadUInt32(field + ".serial"),
            reader.ReadUInt32(field + ".refresh"), reader.ReadUInt32(field + ".retry"), reader.ReadUInt32(field + ".expire"), reader.ReadUInt32(field + ".minimum"));
}
