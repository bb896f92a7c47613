using System.Collections.Immutable;
using ClientLb.Endpoints;

namespace ClientLb.Eligibility;

/// <summary>
/// Which endpoints of a service may take new traffic and where traffic stays: the scheme rule (<see cref="SchemeFilter"/>),
/// the condition rule (<see cref="EndpointSelector"/>: ready, else serving and terminating) and the topology rule
/// (<see cref="TopologyFilter"/>: EndpointSlice hints, then the opt-in location preference). The one implementation the
/// SDK's balancer and the agent both call. <see cref="Build"/> reads a whole list; the balancer then applies each
/// source change to the same counts (O(changed)) instead of reading the list again, and falls back to <see cref="Build"/>
/// whenever a change alters the rule for endpoints it did not name. Not thread-safe: one owner changes it.
/// </summary>
public sealed class EligibleSetBuilder
{
    private readonly IReadOnlyList<string> _schemes;
    private double? _minHealthyShare;
    private ConditionCounts _conditions;
    private TopologyCounts _topology;
    // Endpoints with a scheme were present at the last build while schemes are preferred: the scheme rule then depends on
    // every endpoint, so a change is never applied on its own.
    private bool _schemeSensitive;
    // No build since the locality changed: the counts do not describe the current rule.
    private bool _stale = true;

    /// <summary>Creates a builder.</summary>
    /// <param name="schemes">The scheme preference of the name asked for (<c>https+http://svc</c>: https, then http); empty keeps every endpoint.</param>
    /// <param name="nodeName">The client's node, for node hints and the location preference; null when unknown.</param>
    /// <param name="zone">The client's zone, for zone hints and the location preference; null when unknown.</param>
    /// <param name="minHealthyShare">
    /// The location preference (keep traffic on the client's node, else its zone, while that share of the local endpoints
    /// is healthy); null leaves it off and only the EndpointSlice hints narrow traffic.
    /// </param>
    public EligibleSetBuilder(IReadOnlyList<string>? schemes = null, string? nodeName = null, string? zone = null, double? minHealthyShare = null)
    {
        _schemes = schemes ?? [];
        Locate(nodeName, zone, minHealthyShare);
    }

    /// <summary>The rule the last build or change selected by.</summary>
    public EndpointSelectionKind Kind => _conditions.Kind;

    /// <summary>How many endpoints the service has (after the scheme rule).</summary>
    public int Total => _conditions.Total;

    /// <summary>How many of them are ready.</summary>
    public int Ready => _conditions.Ready;

    /// <summary>How many of them are serving but terminating.</summary>
    public int ServingTerminating => _conditions.ServingTerminating;

    /// <summary>Where traffic stays while every eligible endpoint is healthy (the agent's case: the kernel has no passive health).</summary>
    public TopologyLevel Level => _topology.Choose(_minHealthyShare);

    /// <summary>
    /// Whether the topology rule could keep traffic on fewer than all eligible endpoints, whatever their health: the
    /// location preference is on, or the hints apply. When false the level is <see cref="TopologyLevel.Any"/> without a pass.
    /// </summary>
    public bool MayNarrow => _minHealthyShare is not null || _topology.HintedLevel != TopologyLevel.Any;

    /// <summary>Why nothing is eligible (see <see cref="EndpointSelection.EmptyReason"/>).</summary>
    public string EmptyReason => new EndpointSelection([], Kind, Total, Ready, ServingTerminating).EmptyReason!;

    /// <summary>Reads the whole list: every count starts over.</summary>
    public EligibleSet Build(ImmutableArray<Endpoint> endpoints)
    {
        _schemeSensitive = false;
        if (_schemes.Count > 0 && !endpoints.IsDefault)
        {
            foreach (Endpoint endpoint in endpoints)
            {
                _schemeSensitive |= endpoint.Scheme is not null;
            }
        }
        EndpointSelection selection = EndpointSelector.Select(SchemeFilter.Apply(endpoints, _schemes));
        _conditions = new ConditionCounts { Total = selection.Total, Ready = selection.Ready, ServingTerminating = selection.ServingTerminating };
        _topology = new TopologyCounts(_topology.Node, _topology.Zone);
        foreach (Endpoint endpoint in selection.Eligible)
        {
            _topology.Add(endpoint, healthy: true, 1);
        }
        _stale = false;
        return new EligibleSet(selection, Level, _topology.Node, _topology.Zone);
    }

    /// <summary>
    /// Applies one source change to the counts and tells <paramref name="changes"/> which endpoints joined the eligible
    /// set, left it, or changed in place in it. Returns false, having changed nothing, when the change needs
    /// <see cref="Build"/>: the condition rule flips for everyone (the last ready endpoint left), the scheme rule depends on
    /// the whole list, or the locality changed since the last build.
    /// </summary>
    internal bool TryApply<TChanges>(EndpointChanges changes, ref TChanges changed) where TChanges : struct, IEligibleSetChanges
    {
        if (_stale || _schemeSensitive || (_schemes.Count > 0 && HasScheme(changes)))
        {
            return false;
        }
        ConditionCounts counts = _conditions;
        foreach (Endpoint endpoint in changes.Removed)
        {
            counts.Add(endpoint, -1);
        }
        foreach (Endpoint endpoint in changes.Added)
        {
            counts.Add(endpoint, 1);
        }
        foreach (EndpointUpdate update in changes.Updated)
        {
            counts.Add(update.Previous, -1);
            counts.Add(update.Current, 1);
        }
        EndpointSelectionKind kind = counts.Kind;
        if (kind != _conditions.Kind)
        {
            return false; // e.g. the last ready endpoint went: every terminating one becomes eligible at once
        }
        _conditions = counts;

        foreach (Endpoint endpoint in changes.Removed)
        {
            if (EndpointSelector.IsEligible(endpoint, kind))
            {
                _topology.Add(endpoint, healthy: true, -1);
                changed.Left(endpoint);
            }
        }
        foreach (EndpointUpdate update in changes.Updated)
        {
            bool was = EndpointSelector.IsEligible(update.Previous, kind), now = EndpointSelector.IsEligible(update.Current, kind);
            if (was)
            {
                _topology.Add(update.Previous, healthy: true, -1);
            }
            if (now)
            {
                _topology.Add(update.Current, healthy: true, 1);
            }
            if (was && now)
            {
                changed.Changed(update.Previous, update.Current);
            }
            else if (was)
            {
                changed.Left(update.Current);
            }
            else if (now)
            {
                changed.Joined(update.Current);
            }
        }
        foreach (Endpoint endpoint in changes.Added)
        {
            if (EndpointSelector.IsEligible(endpoint, kind))
            {
                _topology.Add(endpoint, healthy: true, 1);
                changed.Joined(endpoint);
            }
        }
        return true;
    }

    /// <summary>Sets where the client runs and whether the location preference is on; the next <see cref="Build"/> counts with it.</summary>
    internal void Locate(string? nodeName, string? zone, double? minHealthyShare)
    {
        if (_topology.Node != nodeName || _topology.Zone != zone || _minHealthyShare != minHealthyShare)
        {
            _topology = new TopologyCounts(nodeName, zone);
            _minHealthyShare = minHealthyShare;
            _stale = true;
        }
    }

    /// <summary>
    /// Where traffic stays among <paramref name="eligible"/> (this builder's eligible set) when some of them are not
    /// healthy: one pass, the rule of <see cref="Level"/>.
    /// </summary>
    public TopologyLevel Choose<T>(IReadOnlyList<T> eligible, Func<T, Endpoint> endpointOf, Func<T, bool> isHealthy) =>
        TopologyFilter.Choose(eligible, endpointOf, isHealthy, _topology.Node, _topology.Zone, _minHealthyShare);

    /// <summary>Whether <paramref name="endpoint"/> is in the set of <paramref name="level"/> for this client.</summary>
    public bool IsIn(Endpoint endpoint, TopologyLevel level) => TopologyFilter.IsIn(endpoint, level, _topology.Node, _topology.Zone);

    private static bool HasScheme(EndpointChanges changes)
    {
        foreach (Endpoint endpoint in changes.Added)
        {
            if (endpoint.Scheme is not null)
            {
                return true;
            }
        }
        foreach (EndpointUpdate update in changes.Updated)
        {
            if (update.Current.Scheme is not null)
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>What <see cref="EligibleSetBuilder.TryApply"/> reports, endpoint by endpoint, about the eligible set.</summary>
internal interface IEligibleSetChanges
{
    /// <summary><paramref name="endpoint"/> became eligible (it is new, or its conditions now admit it).</summary>
    void Joined(Endpoint endpoint);

    /// <summary>The endpoint with <paramref name="endpoint"/>'s address is no longer eligible (it left, or its conditions no longer admit it).</summary>
    void Left(Endpoint endpoint);

    /// <summary>An eligible endpoint stays eligible with other attributes (zone, hints, weight...).</summary>
    void Changed(Endpoint previous, Endpoint current);
}
