namespace ClientLb.Dns.Protocol;

/// <summary>An SRV record (RFC 2782): where a service runs.</summary>
/// <param name="Name">The owner, e.g. <c>_http._tcp.web.prod.svc.cluster.local</c>.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
/// <param name="Priority">Lower is preferred; only the lowest group is used while it has targets.</param>
/// <param name="Weight">Relative share within a priority group.</param>
/// <param name="Port">The port on the target.</param>
/// <param name="Target">The host; <c>.</c> means the service is decidedly not available.</param>
internal sealed record DnsSrvRecord(string Name, uint Ttl, ushort Priority, ushort Weight, ushort Port, string Target) : DnsRecord(Name, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.SRV;

    internal override void WriteData(DnsMessageWriter writer)
    {
        writer.WriteUInt16(Priority);
        writer.WriteUInt16(Weight);
        writer.WriteUInt16(Port);
        // RFC 2782: the target must not be compressed (readers here still accept it compressed).
        writer.WriteName(Target, compress: false);
    }

    internal static DnsSrvRecord Read(ref DnsMessageReader reader, string name, uint ttl, string field)
    {
        ushort priority = reader.ReadUInt16(field + ".priority");
        ushort weight = reader.ReadUInt16(field + ".weight");
        ushort port = reader.ReadUInt16(field + ".port");
        return new DnsSrvRecord(name, ttl, priority, weight, port, reader.ReadName(field + ".target"));
    }
}
