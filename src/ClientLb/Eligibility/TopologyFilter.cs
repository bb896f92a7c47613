using ClientLb.Endpoints;

namespace ClientLb.Eligibility;

/// <summary>Which endpoints traffic is kept on, and by which rule.</summary>
public enum TopologyLevel
{
    /// <summary>Endpoints on the same node as the client (the opt-in location preference).</summary>
    Node,

    /// <summary>Endpoints in the same zone as the client (the opt-in location preference).</summary>
    Zone,

    /// <summary>Every endpoint.</summary>
    Any,

    /// <summary>Endpoints whose EndpointSlice hints name the client's node (<c>hints.forNodes</c>, <c>trafficDistribution: PreferSameNode</c>).</summary>
    NodeHints,

    /// <summary>Endpoints whose EndpointSlice hints name the client's zone (<c>hints.forZones</c>, e.g. <c>trafficDistribution: PreferSameZone</c>).</summary>
    ZoneHints,
}

/// <summary>
/// Topology, shared by the SDK and the agent; runs after <see cref="EndpointSelector"/>. First the EndpointSlice hints,
/// as kube-proxy reads them (<c>pkg/proxy/topology.go</c>): the Service's owner asked for them through
/// <c>trafficDistribution</c>, so they apply whenever present and the client knows its node or zone. Then, opt-in, the
/// location preference: the client's node, else its zone, as long as enough of that local set is healthy; below
/// <c>minHealthyShare</c> it widens to the next set, so a local outage spills over instead of overloading the few local
/// survivors.
/// </summary>
public static class TopologyFilter
{
    /// <summary>
    /// Chooses where traffic stays among <paramref name="endpoints"/>, the eligible candidates;
    /// <paramref name="isHealthy"/> says which of them may take traffic now (e.g. not ejected by passive health; for the
    /// agent, every eligible endpoint).
    /// <list type="number">
    /// <item><see cref="HintedLevel"/>: <see cref="TopologyLevel.NodeHints"/> or <see cref="TopologyLevel.ZoneHints"/>, unless
    /// none of the hinted endpoints is healthy (the hints cannot know about passive health).</item>
    /// <item>With <paramref name="minHealthyShare"/> (the location preference is on): the narrowest of
    /// <see cref="TopologyLevel.Node"/> and <see cref="TopologyLevel.Zone"/> whose endpoints are at least that share
    /// healthy, and at least one.</item>
    /// <item>Else <see cref="TopologyLevel.Any"/>.</item>
    /// </list>
    /// </summary>
    public static TopologyLevel Choose<T>(IReadOnlyList<T> endpoints, Func<T, Endpoint> endpointOf, Func<T, bool> isHealthy, string? node, string? zone, double? minHealthyShare)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(endpointOf);
        ArgumentNullException.ThrowIfNull(isHealthy);
        var counts = new TopologyCounts(node, zone);
        foreach (T candidate in endpoints)
        {
            counts.Add(endpointOf(candidate), isHealthy(candidate), 1);
        }
        return counts.Choose(minHealthyShare);
    }

    /// <summary>
    /// Kube-proxy's reading of the hints, over the ready endpoints: <see cref="TopologyLevel.NodeHints"/> when every one
    /// has node hints and one names <paramref name="node"/>; else <see cref="TopologyLevel.ZoneHints"/> when every one has
    /// zone hints and one names <paramref name="zone"/>; else <see cref="TopologyLevel.Any"/> (also when none is ready:
    /// the serving-terminating fallback ignores hints).
    /// </summary>
    public static TopologyLevel HintedLevel<T>(IReadOnlyList<T> endpoints, Func<T, Endpoint> endpointOf, string? node, string? zone)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(endpointOf);
        var counts = new TopologyCounts(node, zone);
        foreach (T candidate in endpoints)
        {
            counts.Add(endpointOf(candidate), healthy: true, 1);
        }
        return counts.HintedLevel;
    }

    /// <summary>Whether <paramref name="endpoint"/> belongs to the set of <paramref name="level"/>.</summary>
    public static bool IsIn(Endpoint endpoint, TopologyLevel level, string? node, string? zone)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return level switch
        {
            TopologyLevel.Node => !string.IsNullOrEmpty(node) && string.Equals(endpoint.NodeName, node, StringComparison.Ordinal),
            TopologyLevel.Zone => !string.IsNullOrEmpty(zone) && string.Equals(endpoint.Zone, zone, StringComparison.Ordinal),
            TopologyLevel.NodeHints => !string.IsNullOrEmpty(node) && endpoint.NodeHints.Contains(node, StringComparer.Ordinal),
            TopologyLevel.ZoneHints => !string.IsNullOrEmpty(zone) && endpoint.ZoneHints.Contains(zone, StringComparer.Ordinal),
            _ => true,
        };
    }

    /// <summary>The level in words for logs: <c>same node</c>, <c>same zone</c>, <c>all</c>, <c>node hints</c>, <c>zone hints</c>.</summary>
    public static string Describe(TopologyLevel level) => level switch
    {
        TopologyLevel.Node => "same node",
        TopologyLevel.Zone => "same zone",
        TopologyLevel.NodeHints => "node hints",
        TopologyLevel.ZoneHints => "zone hints",
        _ => "all",
    };
}
