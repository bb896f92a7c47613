namespace ClientLb.Sources;

/// <summary>
/// A source that knows the service's own session affinity, as a Kubernetes Service's <c>sessionAffinity: ClientIP</c>
/// with <c>sessionAffinityConfig.clientIP.timeoutSeconds</c>. When a service's configuration names no policy, its
/// balancer then uses the <c>Sticky</c> policy keyed on the client IP with this timeout, as kube-proxy would.
/// A change should be followed by a notification to subscribers (a new snapshot or status change) so pickers rebuild.
/// </summary>
public interface ISessionAffinitySource
{
    /// <summary>The ClientIP affinity timeout, or null when the service has no session affinity.</summary>
    TimeSpan? ClientIpAffinityTimeout { get; }
}
