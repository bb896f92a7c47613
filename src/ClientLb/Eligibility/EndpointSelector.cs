using System.Collections.Immutable;
using ClientLb.Endpoints;

namespace ClientLb.Eligibility;

/// <summary>
/// Decides which endpoints may receive new traffic, the way kube-proxy does: ready endpoints; if none is
/// ready, serving-and-terminating ones as a fallback (so a rolling update with every pod terminating still
/// gets answers). <see cref="EligibleSetBuilder"/> applies it for the SDK's balancer and for the agent.
/// </summary>
public static class EndpointSelector
{
    /// <summary>Selects the eligible endpoints of <paramref name="endpoints"/>.</summary>
    public static EndpointSelection Select(ImmutableArray<Endpoint> endpoints)
    {
        if (endpoints.IsDefaultOrEmpty)
        {
            return new EndpointSelection([], EndpointSelectionKind.None, 0, 0, 0);
        }
        var counts = new ConditionCounts();
        foreach (Endpoint e in endpoints)
        {
            counts.Add(e, 1);
        }
        EndpointSelectionKind kind = counts.Kind;
        return new EndpointSelection(Filter(endpoints, counts.Eligible, kind), kind, counts.Total, counts.Ready, counts.ServingTerminating);
    }

    /// <summary>Whether <paramref name="endpoint"/> is eligible under the rule <paramref name="kind"/> that a selection chose.</summary>
    public static bool IsEligible(Endpoint endpoint, EndpointSelectionKind kind)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return kind switch
        {
            EndpointSelectionKind.Ready => endpoint.Conditions.Ready,
            EndpointSelectionKind.ServingTerminatingFallback => endpoint.Conditions.Serving && endpoint.Conditions.Terminating,
            _ => false,
        };
    }

    /// <summary>
    /// Why <paramref name="endpoint"/> is not eligible under <paramref name="kind"/> (e.g. <c>not ready (terminating)</c>),
    /// or null when it is: the words diagnostics show next to an endpoint that gets no traffic.
    /// </summary>
    public static string? IneligibleReason(Endpoint endpoint, EndpointSelectionKind kind)
    {
        if (IsEligible(endpoint, kind))
        {
            return null;
        }
        EndpointConditions c = endpoint.Conditions;
        return kind == EndpointSelectionKind.ServingTerminatingFallback
            ? (c.Serving ? "not terminating and not ready (only serving+terminating endpoints are used while none is ready)" : "not serving")
            : c.Terminating ? (c.Serving ? "not ready (terminating, still serving)" : "not ready (terminating)")
            : c.Serving ? "not ready" : "not ready, not serving";
    }

    private static ImmutableArray<Endpoint> Filter(ImmutableArray<Endpoint> endpoints, int count, EndpointSelectionKind kind)
    {
        if (count == endpoints.Length || count == 0)
        {
            return count == 0 ? ImmutableArray<Endpoint>.Empty : endpoints;
        }
        ImmutableArray<Endpoint>.Builder builder = ImmutableArray.CreateBuilder<Endpoint>(count);
        foreach (Endpoint e in endpoints)
        {
            if (IsEligible(e, kind))
            {
                builder.Add(e);
            }
        }
        return builder.MoveToImmutable();
    }
}

/// <summary>
/// Endpoints counted by the condition rule (ready; else serving and terminating), moved one endpoint at a time: the
/// rule <see cref="EndpointSelector.Select"/> applies to a list and <see cref="EligibleSetBuilder"/> keeps across changes.
/// </summary>
internal struct ConditionCounts
{
    /// <summary>Every endpoint counted.</summary>
    public int Total;

    /// <summary>The ready ones.</summary>
    public int Ready;

    /// <summary>The ones not ready but serving and terminating.</summary>
    public int ServingTerminating;

    /// <summary>Counts <paramref name="endpoint"/> in (<paramref name="delta"/> 1) or out (-1).</summary>
    public void Add(Endpoint endpoint, int delta)
    {
        Total += delta;
        EndpointConditions c = endpoint.Conditions;
        if (c.Ready)
        {
            Ready += delta;
        }
        else if (c.Serving && c.Terminating)
        {
            ServingTerminating += delta;
        }
    }

    /// <summary>The rule these counts select by: ready endpoints when there are any, else the serving-terminating fallback.</summary>
    public readonly EndpointSelectionKind Kind =>
        Ready > 0 ? EndpointSelectionKind.Ready : ServingTerminating > 0 ? EndpointSelectionKind.ServingTerminatingFallback : EndpointSelectionKind.None;

    /// <summary>How many endpoints <see cref="Kind"/> makes eligible.</summary>
    public readonly int Eligible => Ready > 0 ? Ready : ServingTerminating;
}

/// <summary>Which rule produced an <see cref="EndpointSelection"/>.</summary>
public enum EndpointSelectionKind
{
    /// <summary>No endpoint is eligible.</summary>
    None,

    /// <summary>The ready endpoints.</summary>
    Ready,

    /// <summary>No endpoint was ready; serving endpoints that are terminating are used instead.</summary>
    ServingTerminatingFallback,
}

/// <summary>The outcome of <see cref="EndpointSelector.Select"/>.</summary>
/// <param name="Eligible">The endpoints that may receive new traffic.</param>
/// <param name="Kind">Which rule selected them.</param>
/// <param name="Total">How many endpoints there were in all.</param>
/// <param name="Ready">How many were ready.</param>
/// <param name="ServingTerminating">How many were serving but terminating.</param>
public sealed record EndpointSelection(ImmutableArray<Endpoint> Eligible, EndpointSelectionKind Kind, int Total, int Ready, int ServingTerminating)
{
    /// <summary>Why nothing is eligible, e.g. <c>no ready endpoints; 3 not ready</c>; null when something is.</summary>
    public string? EmptyReason => Eligible.Length > 0 ? null
        : Total == 0 ? "the service has no endpoints"
        : $"no ready endpoints; {Total} not ready";
}
