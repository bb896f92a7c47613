namespace ClientLb.Balancing;

// Active health (e.g. gRPC's grpc.health.v1 checks in ClientLb.Grpc): a verdict set from outside the request path that
// keeps the endpoint out of the picker exactly as an ejection does.
public sealed partial class BalancedEndpoint
{
    /// <summary>True while an active health check says the endpoint does not serve (see <see cref="ServiceBalancer.ReportHealthCheck"/>).</summary>
    public bool IsFailingHealthChecks => (Volatile.Read(ref _flags) & FailingHealthChecks) != 0;

    /// <summary>Neither ejected by passive health nor failing active health checks: the picker may choose it.</summary>
    public bool IsHealthy => !IsEjected && !IsFailingHealthChecks;

    /// <summary>Sets the active-health verdict; returns whether it changed.</summary>
    internal bool SetFailingHealthChecks(bool failing) =>
        ((failing ? Interlocked.Or(ref _flags, FailingHealthChecks) : Interlocked.And(ref _flags, ~FailingHealthChecks)) & FailingHealthChecks) != (failing ? FailingHealthChecks : 0);
}
