using System.Net;
using System.Net.Sockets;

namespace ClientLb.Dns.Protocol;

/// <summary>An AAAA record: an IPv6 address (RFC 3596).</summary>
/// <param name="Name">The owner name.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
/// <param name="Address">The IPv6 address.</param>
internal sealed record DnsAaaaRecord(string Name, uint Ttl, IPAddress Address) : DnsRecord(Name, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.AAAA;

    internal override void WriteData(DnsMessageWriter writer)
    {
        if (Address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw new InvalidOperationException($"The AAAA record '{Name}' holds the non-IPv6 address {Address}.");
        }
        Span<byte> bytes = stackalloc byte[16];
        Address.TryWriteBytes(bytes, out _);
        writer.WriteBytes(bytes);
    }

    internal static DnsAaaaRecord Read(ref DnsMessageReader reader, string name, uint ttl, int length, string field)
    {
        if (length != 16)
        {
            throw new DnsFormatException(field, reader.Position, $"an AAAA record needs 16 bytes of data, RDLENGTH is {length}");
        }
        return new DnsAaaaRecord(name, ttl, new IPAddress(reader.ReadBytes(16, field)));
    }
}
