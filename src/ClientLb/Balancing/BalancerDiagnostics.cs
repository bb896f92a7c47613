using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Sources;

namespace ClientLb.Balancing;

/// <summary>What a <see cref="ServiceBalancer"/> knows at one moment (<see cref="ServiceBalancer.GetDiagnostics"/>); read-only.</summary>
/// <param name="Service">The service and its scheme preference.</param>
/// <param name="SourceKind">The kind of source (<c>config</c>, <c>dns</c>, <c>kubernetes</c>, ...).</param>
/// <param name="SourceDescription">Where the endpoints come from.</param>
/// <param name="SourceStatus">Whether the source's last refresh succeeded, and if not since when it fails.</param>
/// <param name="SnapshotVersion">The version of the source's snapshot (0 before the first).</param>
/// <param name="Staleness">How long the served endpoints have gone without a successful refresh (zero while the source is healthy).</param>
/// <param name="Policy">The policy in use, or null before the first snapshot.</param>
/// <param name="SelectionKind">Which eligibility rule applies (ready, or the serving+terminating fallback).</param>
/// <param name="TopologyLevel">Where traffic is kept.</param>
/// <param name="InPanic">True while too few endpoints are healthy and all eligible ones are used.</param>
/// <param name="InRotation">How many endpoints the current picker chooses from.</param>
/// <param name="NoEndpointsReason">Why every pick fails now, or null when the picker has endpoints.</param>
/// <param name="RetryBudget">The retry budget's use over its window.</param>
/// <param name="Endpoints">Every endpoint of the source's snapshot, in the snapshot's order.</param>
public sealed record BalancerDiagnostics(ServiceName Service, string SourceKind, string SourceDescription, SourceStatus SourceStatus, long SnapshotVersion,
    TimeSpan Staleness, string? Policy, EndpointSelectionKind SelectionKind, TopologyLevel TopologyLevel, bool InPanic, int InRotation, string? NoEndpointsReason,
    RetryBudgetUse RetryBudget, IReadOnlyList<EndpointDiagnostics> Endpoints);

/// <summary>How much of a service's retry budget its window has used.</summary>
/// <param name="Enabled">Whether the budget limits retries.</param>
/// <param name="Requests">First attempts counted in the window.</param>
/// <param name="Retries">Retries and hedges taken from the budget in the window.</param>
/// <param name="Ratio">Retries allowed per request.</param>
/// <param name="MinRetriesPerSecond">Retries allowed per second regardless of traffic.</param>
/// <param name="Window">The sliding window.</param>
public readonly record struct RetryBudgetUse(bool Enabled, long Requests, long Retries, double Ratio, int MinRetriesPerSecond, TimeSpan Window);

/// <summary>One endpoint as its balancer sees it (see <see cref="ServiceBalancer.GetDiagnostics"/>).</summary>
/// <param name="Endpoint">The endpoint: address, port, conditions, zone, node.</param>
/// <param name="Eligible">Whether the eligibility rule admits it (<see cref="EndpointSelector"/>, and the scheme rule).</param>
/// <param name="IneligibleReason">Why it is not eligible, or null when it is.</param>
/// <param name="InRotation">Whether the current picker may choose it.</param>
/// <param name="OutOfRotationReason">Why the picker does not choose it (not eligible, ejected, failing health checks, topology), or null.</param>
/// <param name="EjectedUntil">When passive health lets it back, or null when not ejected.</param>
/// <param name="EjectionReason">Why passive health ejected it (<c>connection_failures</c>, <c>server_errors</c>), or null when not ejected.</param>
/// <param name="Ejections">How many times in a row it was ejected.</param>
/// <param name="SlowStartShare">The share of its picks it keeps while warming up after joining or returning (0.1-1), or null when not warming.</param>
/// <param name="FailingHealthChecks">True while an active health check says it does not serve.</param>
/// <param name="Outstanding">Requests sent to it that have not completed.</param>
/// <param name="Latency">Its peak-EWMA latency estimate, or null before its first response.</param>
public sealed record EndpointDiagnostics(Endpoint Endpoint, bool Eligible, string? IneligibleReason, bool InRotation, string? OutOfRotationReason,
    DateTimeOffset? EjectedUntil, string? EjectionReason, int Ejections, double? SlowStartShare, bool FailingHealthChecks, int Outstanding, TimeSpan? Latency);

/// <summary>The counts of a <see cref="ServiceBalancer"/> at one moment (<see cref="ServiceBalancer.GetSummary"/>).</summary>
/// <param name="Endpoints">Endpoints in the source's snapshot.</param>
/// <param name="Eligible">Endpoints the eligibility rule admits.</param>
/// <param name="InRotation">Endpoints the current picker chooses from.</param>
/// <param name="Ejected">Eligible endpoints passive health keeps out.</param>
/// <param name="SourceStatus">Whether the source's last refresh succeeded.</param>
/// <param name="Staleness">How long the served endpoints have gone without a successful refresh (zero while healthy).</param>
/// <param name="Policy">The policy in use, or null before the first snapshot.</param>
/// <param name="NoEndpointsReason">Why every pick fails now, or null when the picker has endpoints.</param>
public readonly record struct BalancerSummary(int Endpoints, int Eligible, int InRotation, int Ejected, SourceStatus SourceStatus, TimeSpan Staleness,
    string? Policy, string? NoEndpointsReason);
