using ClientLb.Endpoints;

namespace ClientLb.Eligibility;

/// <summary>
/// What the topology rule needs to know about a list of endpoints, as counts that move one endpoint at a time: the
/// ready endpoints the hint rule reads, and for each level how many endpoints are in it and how many of those are
/// healthy. <see cref="TopologyFilter"/> counts a list in one pass; <see cref="EligibleSetBuilder"/> keeps the counts of
/// its eligible set across changes. Both decide with <see cref="Choose"/>, so the rule is written once.
/// </summary>
internal struct TopologyCounts(string? node, string? zone)
{
    // The hint rule (kube-proxy's) reads the ready endpoints only.
    private int _ready, _readyWithoutNodeHints, _readyWithoutZoneHints, _readyHintedNode, _readyHintedZone;
    private int _inNodeHints, _healthyInNodeHints, _inZoneHints, _healthyInZoneHints;
    private int _inNode, _healthyInNode, _inZone, _healthyInZone;

    /// <summary>The client's node the counts are taken for.</summary>
    public readonly string? Node => node;

    /// <summary>The client's zone the counts are taken for.</summary>
    public readonly string? Zone => zone;

    /// <summary>Counts <paramref name="endpoint"/> in (<paramref name="delta"/> 1) or out (-1).</summary>
    public void Add(Endpoint endpoint, bool healthy, int delta)
    {
        if (string.IsNullOrEmpty(node) && string.IsNullOrEmpty(zone))
        {
            return; // no level but Any can apply: nothing to count
        }
        bool nodeHinted = TopologyFilter.IsIn(endpoint, TopologyLevel.NodeHints, node, zone);
        bool zoneHinted = TopologyFilter.IsIn(endpoint, TopologyLevel.ZoneHints, node, zone);
        if (endpoint.Conditions.Ready)
        {
            _ready += delta;
            _readyWithoutNodeHints += endpoint.NodeHints.Count == 0 ? delta : 0;
            _readyWithoutZoneHints += endpoint.ZoneHints.Count == 0 ? delta : 0;
            _readyHintedNode += nodeHinted ? delta : 0;
            _readyHintedZone += zoneHinted ? delta : 0;
        }
        Move(ref _inNodeHints, ref _healthyInNodeHints, nodeHinted, healthy, delta);
        Move(ref _inZoneHints, ref _healthyInZoneHints, zoneHinted, healthy, delta);
        Move(ref _inNode, ref _healthyInNode, TopologyFilter.IsIn(endpoint, TopologyLevel.Node, node, zone), healthy, delta);
        Move(ref _inZone, ref _healthyInZone, TopologyFilter.IsIn(endpoint, TopologyLevel.Zone, node, zone), healthy, delta);
    }

    /// <summary>
    /// Kube-proxy's reading of the hints: <see cref="TopologyLevel.NodeHints"/> when every ready endpoint has node hints
    /// and one names the node; else <see cref="TopologyLevel.ZoneHints"/> likewise for the zone; else
    /// <see cref="TopologyLevel.Any"/> (also when none is ready: the serving-terminating fallback ignores hints).
    /// </summary>
    public readonly TopologyLevel HintedLevel =>
        _ready == 0 ? TopologyLevel.Any
        : _readyWithoutNodeHints == 0 && _readyHintedNode > 0 ? TopologyLevel.NodeHints
        : _readyWithoutZoneHints == 0 && _readyHintedZone > 0 ? TopologyLevel.ZoneHints
        : TopologyLevel.Any;

    /// <summary>The rule of <see cref="TopologyFilter.Choose"/>, over these counts.</summary>
    public readonly TopologyLevel Choose(double? minHealthyShare)
    {
        TopologyLevel hinted = HintedLevel;
        if (hinted != TopologyLevel.Any && IsHealthyEnough(hinted, 0))
        {
            return hinted;
        }
        if (minHealthyShare is not double share)
        {
            return TopologyLevel.Any;
        }
        if (!string.IsNullOrEmpty(node) && IsHealthyEnough(TopologyLevel.Node, share))
        {
            return TopologyLevel.Node;
        }
        if (!string.IsNullOrEmpty(zone) && IsHealthyEnough(TopologyLevel.Zone, share))
        {
            return TopologyLevel.Zone;
        }
        return TopologyLevel.Any;
    }

    private readonly bool IsHealthyEnough(TopologyLevel level, double minHealthyShare)
    {
        (int total, int healthy) = level switch
        {
            TopologyLevel.NodeHints => (_inNodeHints, _healthyInNodeHints),
            TopologyLevel.ZoneHints => (_inZoneHints, _healthyInZoneHints),
            TopologyLevel.Node => (_inNode, _healthyInNode),
            _ => (_inZone, _healthyInZone),
        };
        return healthy > 0 && healthy >= minHealthyShare * total;
    }

    private static void Move(ref int count, ref int healthyCount, bool isIn, bool healthy, int delta)
    {
        if (isIn)
        {
            count += delta;
            healthyCount += healthy ? delta : 0;
        }
    }
}
