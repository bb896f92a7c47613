namespace ClientLb.Endpoints;

/// <summary>How local a set of endpoints is.</summary>
public enum TopologyLevel
{
    /// <summary>Endpoints on the same node as the client.</summary>
    Node,

    /// <summary>Endpoints in the same zone as the client.</summary>
    Zone,

    /// <summary>Every endpoint.</summary>
    Any,
}

/// <summary>
/// Topology preference, shared by the SDK and the agent: keep traffic on the client's node, else in its zone, as long
/// as enough of that local set is healthy; below <c>minHealthyShare</c> widen to the next set, so a local outage
/// spills over instead of overloading the few local survivors. Runs after <see cref="EndpointSelector"/>.
/// </summary>
public static class TopologyFilter
{
    /// <summary>
    /// Chooses the narrowest level whose endpoints are at least <paramref name="minHealthyShare"/> healthy (and at least
    /// one healthy). <paramref name="endpoints"/> are the eligible candidates; <paramref name="isHealthy"/> says which of
    /// them may take traffic now (e.g. not ejected by passive health; for the agent, every eligible endpoint).
    /// </summary>
    public static TopologyLevel Choose<T>(IReadOnlyList<T> endpoints, Func<T, Endpoint> endpointOf, Func<T, bool> isHealthy, string? node, string? zone, double minHealthyShare)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (!string.IsNullOrEmpty(node) && IsHealthyEnough(endpoints, endpointOf, isHealthy, TopologyLevel.Node, node, zone, minHealthyShare))
        {
            return TopologyLevel.Node;
        }
        if (!string.IsNullOrEmpty(zone) && IsHealthyEnough(endpoints, endpointOf, isHealthy, TopologyLevel.Zone, node, zone, minHealthyShare))
        {
            return TopologyLevel.Zone;
        }
        return TopologyLevel.Any;
    }

    /// <summary>Whether <paramref name="endpoint"/> belongs to the set of <paramref name="level"/>.</summary>
    public static bool IsIn(Endpoint endpoint, TopologyLevel level, string? node, string? zone) => level switch
    {
        TopologyLevel.Node => node is not null && string.Equals(endpoint.NodeName, node, StringComparison.Ordinal),
        TopologyLevel.Zone => zone is not null && string.Equals(endpoint.Zone, zone, StringComparison.Ordinal),
        _ => true,
    };

    private static bool IsHealthyEnough<T>(IReadOnlyList<T> endpoints, Func<T, Endpoint> endpointOf, Func<T, bool> isHealthy, TopologyLevel level, string? node, string? zone, double minHealthyShare)
    {
        int total = 0, healthy = 0;
        foreach (T candidate in endpoints)
        {
            if (IsIn(endpointOf(candidate), level, node, zone))
            {
                total++;
                healthy += isHealthy(candidate) ? 1 : 0;
            }
        }
        return healthy > 0 && healthy >= minHealthyShare * total;
    }
}
