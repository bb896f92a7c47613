using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Dashboard;

/// <summary>One service in the dashboard's list: what the page keeps for every service (small: thousands are sent at once).</summary>
internal sealed record ServiceSummary(
    string Key, string Service, string? Schemes, string SourceKind, bool SourceHealthy, double StalenessSeconds, string? SourceError, int Endpoints,
    int InRotation, int Ejected, string? NoEndpointsReason, double PicksPerSecond);

/// <summary>What the detail of one service adds to its summary.</summary>
internal sealed record ServiceFacts(
    string Source, int SourceFailures, long SnapshotVersion, string? Policy, string Selection, string Topology, bool InPanic, int Eligible,
    int Outstanding, long Picks, bool RetryBudgetEnabled, long BudgetRequests, long BudgetRetries, double BudgetRatio, int BudgetMinRetriesPerSecond,
    double BudgetWindowSeconds);

/// <summary>One endpoint row of a service's detail.</summary>
internal sealed record EndpointRow(
    string Authority, string Host, int Port, string? Scheme, string? Hostname, string? Zone, string? Node, bool Ready, bool Serving, bool Terminating,
    bool Eligible, bool InRotation, string? Reason, string? EjectedUntil, string? EjectionReason, int Ejections, double? SlowStartShare,
    bool FailingHealthChecks, int Outstanding, double? LatencyMs, long Picks, double PicksPerSecond);

/// <summary>A change to a keyed list, as pushed over the event stream: everything (<see cref="Full"/>) or what changed.</summary>
internal sealed record ListDelta<T>(bool Full, IReadOnlyList<T> Upsert, IReadOnlyList<string> Remove);

/// <summary>The <c>service</c> event: one service's summary and its endpoints (as a delta after the first).</summary>
internal sealed record ServiceDetail(string Key, ServiceSummary Summary, ServiceFacts Facts, ListDelta<EndpointRow> Endpoints);

/// <summary>An error answer of the JSON API.</summary>
internal sealed record DashboardError(string Error);

/// <summary>Builds the dashboard's rows from the core's read-only view (<see cref="ServiceBalancer.GetDiagnostics"/>).</summary>
internal static class DashboardModel
{
    /// <summary>The key of a balancer in the API: the service id, and its scheme preference when it has one (<c>payments.default|https+http</c>).</summary>
    public static string KeyOf(ServiceName service) => service.Schemes.Count == 0 ? service.Id : service.Id + "|" + string.Join('+', service.Schemes);

    /// <summary>The list entry of a balancer, from its O(1) counts.</summary>
    public static ServiceSummary Summarize(ServiceBalancer balancer, PickCounters picks)
    {
        BalancerSummary counts = balancer.GetSummary();
        ServiceName service = balancer.Service;
        return new ServiceSummary(KeyOf(service), service.Id, service.Schemes.Count == 0 ? null : string.Join('+', service.Schemes), balancer.Source.Kind,
            counts.SourceStatus.IsHealthy, Math.Round(counts.Staleness.TotalSeconds, 1), counts.SourceStatus.LastError?.Message, counts.Endpoints,
            counts.InRotation, counts.Ejected, counts.NoEndpointsReason, Math.Round(picks.ForService(service.Id).PerSecond, 1));
    }

    /// <summary>The detail of a balancer: its summary (from the same view), facts and endpoint rows.</summary>
    public static (ServiceSummary Summary, ServiceFacts Facts, EndpointRow[] Rows) Detail(BalancerDiagnostics view, PickCounters picks)
    {
        EndpointRow[] rows = Rows(view, picks);
        int ejected = 0, outstanding = 0, eligible = 0;
        double perSecond = 0;
        long total = 0;
        foreach (EndpointRow row in rows)
        {
            ejected += row.EjectedUntil is null ? 0 : 1;
            outstanding += row.Outstanding;
            eligible += row.Eligible ? 1 : 0;
            total += row.Picks;
            perSecond += row.PicksPerSecond;
        }
        ServiceName service = view.Service;
        var summary = new ServiceSummary(KeyOf(service), service.Id, service.Schemes.Count == 0 ? null : string.Join('+', service.Schemes), view.SourceKind,
            view.SourceStatus.IsHealthy, Math.Round(view.Staleness.TotalSeconds, 1), view.SourceStatus.LastError?.Message, rows.Length, view.InRotation,
            ejected, view.NoEndpointsReason, Math.Round(perSecond, 1));
        RetryBudgetUse budget = view.RetryBudget;
        var facts = new ServiceFacts(view.SourceDescription, view.SourceStatus.ConsecutiveFailures, view.SnapshotVersion, view.Policy, Describe(view.SelectionKind),
            TopologyFilter.Describe(view.TopologyLevel), view.InPanic, eligible, outstanding, total, budget.Enabled, budget.Requests, budget.Retries, budget.Ratio,
            budget.MinRetriesPerSecond, budget.Window.TotalSeconds);
        return (summary, facts, rows);
    }

    private static EndpointRow[] Rows(BalancerDiagnostics view, PickCounters picks)
    {
        var rows = new EndpointRow[view.Endpoints.Count];
        for (int i = 0; i < rows.Length; i++)
        {
            EndpointDiagnostics e = view.Endpoints[i];
            Endpoint endpoint = e.Endpoint;
            (long count, double rate) = picks.Get(view.Service.Id, endpoint.Authority);
            rows[i] = new EndpointRow(endpoint.Authority, endpoint.Host, endpoint.Port, endpoint.Scheme, endpoint.Hostname, endpoint.Zone, endpoint.NodeName,
                endpoint.Conditions.Ready, endpoint.Conditions.Serving, endpoint.Conditions.Terminating, e.Eligible, e.InRotation,
                e.IneligibleReason ?? e.OutOfRotationReason, e.EjectedUntil?.ToString("O", CultureInfo.InvariantCulture), e.EjectionReason, e.Ejections,
                e.SlowStartShare is double share ? Math.Round(share, 3) : null, e.FailingHealthChecks, e.Outstanding,
                e.Latency is TimeSpan latency ? Math.Round(latency.TotalMilliseconds, 3) : null, count, Math.Round(rate, 1));
        }
        return rows;
    }

    private static string Describe(EndpointSelectionKind kind) => kind switch
    {
        EndpointSelectionKind.Ready => "ready",
        EndpointSelectionKind.ServingTerminatingFallback => "serving+terminating fallback",
        _ => "none eligible",
    };
}

/// <summary>Source-generated JSON for the dashboard's API (camelCase, no reflection).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ServiceSummary[]))]
[JsonSerializable(typeof(ListDelta<ServiceSummary>))]
[JsonSerializable(typeof(ServiceDetail))]
[JsonSerializable(typeof(DashboardError))]
internal sealed partial class DashboardJsonContext : JsonSerializerContext;
