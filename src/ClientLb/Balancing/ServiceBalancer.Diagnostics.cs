using System.Collections.Immutable;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Sources;

namespace ClientLb.Balancing;

// A read-only picture of the balancer for dashboards and diagnostics. It takes the rebuild lock (as a source change
// does), never the pick path's picker, and allocates one list per call: meant for a view refreshed about once a second.
public sealed partial class ServiceBalancer
{
    /// <summary>
    /// Returns what the balancer knows now: the source and its staleness, the policy, and every endpoint of the source's
    /// snapshot with its conditions, whether it is eligible (and why not), whether the current picker uses it (and why
    /// not), its passive-health state, slow-start share, outstanding requests and latency estimate. It reads the state the
    /// request path writes without adding anything to that path; the call costs O(endpoints) under the balancer's rebuild
    /// lock and allocates the result, so call it from diagnostics, not per request.
    /// </summary>
    public BalancerDiagnostics GetDiagnostics()
    {
        EndpointSnapshot? snapshot = Source.Current;
        SourceStatus status = Source.Status;
        DateTimeOffset utcNow = _timeProvider.GetUtcNow();
        long now = _timeProvider.GetTimestamp();
        ImmutableArray<Endpoint> endpoints = snapshot?.Endpoints ?? [];
        var result = new List<EndpointDiagnostics>(endpoints.Length);
        string? policy;
        string? noEndpoints;
        EndpointSelectionKind kind;
        int inRotationCount;
        lock (_rebuildGate)
        {
            EndpointPicker picker = _picker;
            policy = _pickers.Policy?.Name;
            kind = _eligibility.Kind;
            noEndpoints = picker is FailingPicker failing ? failing.Error.Reason : null;
            var inRotation = new HashSet<BalancedEndpoint>(picker.Endpoints, ReferenceEqualityComparer.Instance);
            inRotationCount = inRotation.Count;
            HashSet<string>? schemeDropped = SchemeDropped(endpoints);
            TopologyLevel level = TopologyLevel;
            foreach (Endpoint endpoint in endpoints)
            {
                if (_endpoints.Find(endpoint) is BalancedEndpoint balanced)
                {
                    result.Add(Describe(endpoint, balanced, inRotation.Contains(balanced), level, now, utcNow));
                    continue;
                }
                string reason = schemeDropped?.Contains(endpoint.Authority) == true
                    ? $"scheme '{endpoint.Scheme}' is not the most preferred one present ({string.Join('+', Service.Schemes)})"
                    : EndpointSelector.IneligibleReason(endpoint, kind) ?? "not yet applied by the balancer";
                result.Add(new EndpointDiagnostics(endpoint, false, reason, false, reason, null, null, 0, null, false, 0, null));
            }
        }
        (long requests, long retries) = RetryBudget.Window();
        RetryBudgetOptions budget = Options.RetryBudget;
        return new BalancerDiagnostics(Service, Source.Kind, Source.Description, status, snapshot?.Version ?? 0, status.Staleness(utcNow),
            policy, kind, TopologyLevel, InPanic, inRotationCount, noEndpoints,
            new RetryBudgetUse(budget.Enabled, requests, retries, budget.Ratio, budget.MinRetriesPerSecond, budget.Window), result);
    }

    /// <summary>
    /// The counts of <see cref="GetDiagnostics"/> without the endpoints: O(1) and no allocation beyond the result, for a
    /// list of thousands of services refreshed every second.
    /// </summary>
    public BalancerSummary GetSummary()
    {
        SourceStatus status = Source.Status;
        DateTimeOffset utcNow = _timeProvider.GetUtcNow();
        lock (_rebuildGate)
        {
            EndpointPicker picker = _picker;
            return new BalancerSummary(Source.Current?.Endpoints.Length ?? 0, _endpoints.Array.Length, picker.Endpoints.Count, _health.Ejected, status,
                status.Staleness(utcNow), _pickers.Policy?.Name, picker is FailingPicker failing ? failing.Error.Reason : null);
        }
    }

    // The addresses the scheme rule drops for this balancer's scheme preference; null when it drops none.
    private HashSet<string>? SchemeDropped(ImmutableArray<Endpoint> endpoints)
    {
        if (Service.Schemes.Count == 0)
        {
            return null;
        }
        ImmutableArray<Endpoint> kept = SchemeFilter.Apply(endpoints, Service.Schemes);
        if (kept.Length == endpoints.Length)
        {
            return null;
        }
        var dropped = new HashSet<string>(endpoints.Select(static e => e.Authority), StringComparer.Ordinal);
        dropped.ExceptWith(kept.Select(static e => e.Authority));
        return dropped;
    }

    private EndpointDiagnostics Describe(Endpoint endpoint, BalancedEndpoint balanced, bool inRotation, TopologyLevel level, long now, DateTimeOffset utcNow)
    {
        long until = balanced.EjectedUntil;
        DateTimeOffset? ejectedUntil = until == 0 ? null : utcNow + _timeProvider.GetElapsedTime(now, until);
        long warmEnd = balanced.WarmEnd;
        double? share = warmEnd == 0 || now >= warmEnd ? null : SlowStartPicker.Share(now, balanced.WarmStart, warmEnd);
        string? outReason = inRotation ? null
            : until != 0 ? $"ejected ({balanced.EjectionReason}) until {ejectedUntil:HH:mm:ss.fff}"
            : balanced.IsFailingHealthChecks ? "failing active health checks"
            : !_eligibility.IsIn(endpoint, level) ? $"outside the topology level in use ({TopologyFilter.Describe(level)})"
            : "not in the current picker";
        return new EndpointDiagnostics(endpoint, true, null, inRotation, outReason, ejectedUntil, until == 0 ? null : balanced.EjectionReason,
            balanced.Ejections, share, balanced.IsFailingHealthChecks, balanced.Outstanding, balanced.Latency(_timeProvider));
    }
}
