namespace ClientLb.Dns.Protocol;

/// <summary>Resource record types (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891) this library reads or writes.</summary>
internal enum DnsRecordType : ushort
{
    /// <summary>An IPv4 address.</summary>
    A = 1,

    /// <summary>An authoritative name server.</summary>
    NS = 2,

    /// <summary>The canonical name for an alias.</summary>
    CNAME = 5,

    /// <summary>The start of a zone of authority (carries the negative-caching TTL, RFC 2308).</summary>
    SOA = 6,

    /// <summary>A domain name pointer.</summary>
    PTR = 12,

    /// <summary>Text strings.</summary>
    TXT = 16,

    /// <summary>An IPv6 address (RFC 3596).</summary>
    AAAA = 28,

    /// <summary>A service location (RFC 2782).</summary>
    SRV = 33,

    /// <summary>The EDNS(0) pseudo-record (RFC 6891).</summary>
    OPT = 41,

    /// <summary>Any type (query only).</summary>
    ANY = 255,
}
