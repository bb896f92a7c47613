using System.Text;

namespace ClientLb.Dns.Protocol;

/// <summary>A TXT record: one or more character strings (each at most 255 bytes), kept as Latin-1 text.</summary>
/// <param name="Name">The owner name.</param>
/// <param name="Ttl">Seconds the record may be cached.</param>
/// <param name="Strings">The character strings.</param>
internal sealed record DnsTxtRecord(string Name, uint Ttl, IReadOnlyList<string> Strings) : DnsRecord(Name, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.TXT;

    internal override void WriteData(DnsMessageWriter writer)
    {
        foreach (string s in Strings)
        {
            byte[] bytes = Encoding.Latin1.GetBytes(s);
            if (bytes.Length > 255)
            {
                throw new InvalidOperationException($"The TXT record '{Name}' has a string of {bytes.Length} bytes; the limit is 255.");
            }
            writer.WriteByte((byte)bytes.Length);
            writer.WriteBytes(bytes);
        }
    }

    internal static DnsTxtRecord Read(ref DnsMessageReader reader, string name, uint ttl, int end, string field)
    {
        var strings = new List<string>();
        while (reader.Position < end)
        {
            byte length = reader.ReadByte(field + ".length");
            if (reader.Position + length > end)
            {
                throw new DnsFormatException(field, reader.Position - 1, $"a string of {length} bytes runs past the end of the record data");
            }
            strings.Add(Encoding.Latin1.GetString(reader.ReadBytes(length, field)));
        }
        return new DnsTxtRecord(name, ttl, strings);
    }
}
