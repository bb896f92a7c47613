using ClientLb.Endpoints;

namespace ClientLb.Dns.Source;

/// <summary>The endpoints one refresh found, how long they may be kept, or why there are none.</summary>
/// <param name="QueriedName">The name asked for (the SRV or address name).</param>
/// <param name="Endpoints">The endpoints; empty when <paramref name="NotFound"/> says why.</param>
/// <param name="Ttl">The least TTL involved (seconds), or null when DNS gave none.</param>
/// <param name="NotFound">Why there are no endpoints (<c>NXDOMAIN</c>, <c>no A/AAAA records</c>...), or null.</param>
internal sealed record DnsServiceAnswer(string QueriedName, IReadOnlyList<Endpoint> Endpoints, uint? Ttl, string? NotFound)
{
    /// <summary>Records left out (an unusable address, SRV port 0, a target that does not resolve), each with why.</summary>
    public IReadOnlyList<DroppedRecord> Dropped { get; init; } = [];
}

/// <summary>A record a refresh left out.</summary>
/// <param name="Record">The record as DNS gave it, e.g. <c>SRV 0 10 0 pod-a.web.ns.svc.cluster.local</c>.</param>
/// <param name="Reason">Why it was left out.</param>
internal sealed record DroppedRecord(string Record, string Reason);
