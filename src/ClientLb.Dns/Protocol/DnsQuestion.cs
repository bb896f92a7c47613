namespace ClientLb.Dns.Protocol;

/// <summary>A question (RFC 1035 §4.1.2).</summary>
/// <param name="Name">The name asked about, without the trailing dot.</param>
/// <param name="Type">The record type asked for.</param>
/// <param name="Class">The class, normally <see cref="DnsClass.IN"/>.</param>
internal sealed record DnsQuestion(string Name, DnsRecordType Type, DnsClass Class = DnsClass.IN)
{
    /// <summary>True when <paramref name="other"/> asks the same thing (names compared case-insensitively).</summary>
    public bool Matches(DnsQuestion other) =>
        other is not null && Type == other.Type && Class == other.Class && DnsName.AreEqual(Name, other.Name);

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Type}";
}
