namespace ClientLb.Dns.Protocol;

/// <summary>Header operation codes (RFC 1035 §4.1.1).</summary>
internal enum DnsOpCode : byte
{
    /// <summary>A standard query.</summary>
    Query = 0,

    /// <summary>An inverse query (obsolete).</summary>
    IQuery = 1,

    /// <summary>A server status request.</summary>
    Status = 2,

    /// <summary>A zone change notification (RFC 1996).</summary>
    Notify = 4,

    /// <summary>A dynamic update (RFC 2136).</summary>
    Update = 5,
}
