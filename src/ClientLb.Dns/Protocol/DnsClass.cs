namespace ClientLb.Dns.Protocol;

/// <summary>Resource record classes (RFC 1035 §3.2.4).</summary>
internal enum DnsClass : ushort
{
    /// <summary>The Internet.</summary>
    IN = 1,

    /// <summary>Chaos (used for server identification such as <c>version.bind</c>).</summary>
    CH = 3,

    /// <summary>Any class (query only).</summary>
    ANY = 255,
}
