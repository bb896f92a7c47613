using ClientLb.Dns.Client;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Resolution;

/// <summary>How a lookup ended.</summary>
internal enum DnsLookupStatus
{
    /// <summary>Records of the asked type were found.</summary>
    Found,

    /// <summary>NXDOMAIN: the name does not exist (for every candidate of the search list).</summary>
    NameNotFound,

    /// <summary>The name exists but has no records of the asked type (NODATA).</summary>
    NoData,
}

/// <summary>The outcome of <see cref="DnsResolver.LookupAsync"/>.</summary>
internal sealed record DnsLookup
{
    /// <summary>The name that was asked for, before the search list.</summary>
    public required string QueryName { get; init; }

    /// <summary>The type asked for.</summary>
    public required DnsRecordType Type { get; init; }

    /// <summary>How the lookup ended.</summary>
    public required DnsLookupStatus Status { get; init; }

    /// <summary>The candidate name that gave the answer (or the last one tried).</summary>
    public required string AnsweredName { get; init; }

    /// <summary>The name the records belong to after following CNAMEs.</summary>
    public required string CanonicalName { get; init; }

    /// <summary>The records of <see cref="Type"/> owned by <see cref="CanonicalName"/>; empty unless <see cref="DnsLookupStatus.Found"/>.</summary>
    public IReadOnlyList<DnsRecord> Records { get; init; } = [];

    /// <summary>The additional section of the final response (SRV targets' addresses often come here).</summary>
    public IReadOnlyList<DnsRecord> Additionals { get; init; } = [];

    /// <summary>
    /// How long the result may be kept: the least TTL of the records and CNAMEs used, or for a negative result the
    /// SOA negative-caching TTL (RFC 2308); null for a negative result without SOA.
    /// </summary>
    public uint? Ttl { get; init; }

    /// <summary>Every candidate tried, in order.</summary>
    public IReadOnlyList<string> TriedNames { get; init; } = [];

    /// <summary>The server that gave the final response.</summary>
    public DnsQueryResult? LastResponse { get; init; }
}
