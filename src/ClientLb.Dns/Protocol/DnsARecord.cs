using System.Net;
using System.Net.Sockets;

namespace ClientLb.Dns.Protocol;

/// <summary>An A record: an IPv4 address.</summary>
/// <param name="Name">The owner name.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
/// <param name="Address">The IPv4 address.</param>
internal sealed record DnsARecord(string Name, uint Ttl, IPAddress Address) : DnsRecord(Name, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.A;

    internal override void WriteData(DnsMessageWriter writer)
    {
        if (Address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new InvalidOperationException($"The A record '{Name}' holds the non-IPv4 address {Address}.");
        }
        Span<byte> bytes = stackalloc byte[4];
        Address.TryWriteBytes(bytes, out _);
        writer.WriteBytes(bytes);
    }

    internal static DnsARecord Read(ref DnsMessageReader reader, string name, uint ttl, int length, string field)
    {
        if (length != 4)
        {
            throw new DnsFormatException(field, reader.Position, $"an A record needs 4 bytes of data, RDLENGTH is {length}");
        }
        return new DnsARecord(name, ttl, new IPAddress(reader.ReadBytes(4, field)));
    }
}
