namespace ClientLb.Dns.Protocol;

/// <summary>A CNAME record: <see cref="DnsRecord.Name"/> is an alias of <paramref name="Target"/>.</summary>
/// <param name="Name">The alias.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
/// <param name="Target">The canonical name.</param>
internal sealed record DnsCnameRecord(string Name, uint Ttl, string Target) : DnsRecord(Name, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.CNAME;

    internal override void WriteData(DnsMessageWriter writer) => writer.WriteName(Target);
}
