namespace ClientLb.Dns.Protocol;

/// <summary>A record of a type this library does not interpret, kept as raw RDATA (RFC 3597).</summary>
/// <param name="Name">The owner name.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
/// <param name="RecordType">The record type.</param>
/// <param name="Data">The RDATA, uninterpreted (names inside it are not decompressed).</param>
internal sealed record DnsUnknownRecord(string Name, uint Ttl, DnsRecordType RecordType, ReadOnlyMemory<byte> Data) : DnsRecord(Name, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => RecordType;

    internal override void WriteData(DnsMessageWriter writer) => writer.WriteBytes(Data.Span);
}
