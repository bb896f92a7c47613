namespace ClientLb.Dns.Protocol;

/// <summary>Response codes (RFC 1035 §4.1.1; values above 15 need EDNS, RFC 6891).</summary>
internal enum DnsResponseCode : ushort
{
    /// <summary>No error.</summary>
    NoError = 0,

    /// <summary>The server could not interpret the query.</summary>
    FormErr = 1,

    /// <summary>The server failed to process the query.</summary>
    ServFail = 2,

    /// <summary>The name does not exist.</summary>
    NXDomain = 3,

    /// <summary>The server does not support this kind of query.</summary>
    NotImp = 4,

    /// <summary>The server refuses to answer (policy).</summary>
    Refused = 5,

    /// <summary>The EDNS version is not supported (RFC 6891).</summary>
    BadVers = 16,
}
