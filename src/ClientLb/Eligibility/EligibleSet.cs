using System.Collections.Immutable;
using ClientLb.Endpoints;

namespace ClientLb.Eligibility;

/// <summary>What <see cref="EligibleSetBuilder.Build"/> decided for a list of endpoints.</summary>
public sealed class EligibleSet
{
    private readonly string? _node, _zone;
    private ImmutableArray<Endpoint> _local;

    internal EligibleSet(EndpointSelection selection, TopologyLevel level, string? node, string? zone)
    {
        Selection = selection;
        Level = level;
        _node = node;
        _zone = zone;
    }

    /// <summary>The endpoints the scheme and condition rules admit, the rule that chose them, and the counts.</summary>
    public EndpointSelection Selection { get; }

    /// <summary>Where traffic stays with every eligible endpoint healthy.</summary>
    public TopologyLevel Level { get; }

    /// <summary>The eligible endpoints in the set of <see cref="Level"/> (all of them at <see cref="TopologyLevel.Any"/>).</summary>
    public ImmutableArray<Endpoint> Local
    {
        get
        {
            if (_local.IsDefault)
            {
                _local = Level == TopologyLevel.Any ? Selection.Eligible
                    : [.. Selection.Eligible.Where(e => TopologyFilter.IsIn(e, Level, _node, _zone))];
            }
            return _local;
        }
    }
}
