using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Slices;

/// <summary>What the v1 Service says beyond its endpoints, for balancing and programming decisions (VIPs, ports, affinity, traffic distribution).</summary>
/// <param name="Type">ClusterIP, NodePort, LoadBalancer or ExternalName.</param>
/// <param name="ClusterIP">The virtual IP, or null for a headless service.</param>
/// <param name="IsHeadless">clusterIP None.</param>
/// <param name="SessionAffinity">None or ClientIP.</param>
/// <param name="SessionAffinityTimeout">The ClientIP affinity timeout (<see cref="DefaultSessionAffinityTimeoutSeconds"/> when ClientIP and unset).</param>
/// <param name="TrafficDistribution">E.g. PreferClose, PreferSameZone, PreferSameNode; null when unset.</param>
/// <param name="Ports">The Service ports.</param>
public sealed record KubernetesServiceInfo(string Type, string? ClusterIP, bool IsHeadless, string SessionAffinity, TimeSpan? SessionAffinityTimeout,
    string? TrafficDistribution, IReadOnlyList<KubernetesServicePort> Ports)
{
    /// <summary>Kubernetes' (and kube-proxy's) ClientIP affinity timeout when the Service sets none: 10800 s (3 hours).</summary>
    public const int DefaultSessionAffinityTimeoutSeconds = 10800;

    /// <summary>
    /// Every virtual IP (dual-stack: one per family, the first equal to <see cref="ClusterIP"/>); empty for a headless
    /// service, an ExternalName service or one without a cluster IP yet.
    /// </summary>
    public IReadOnlyList<string> ClusterIPs { get; init; } = [];

    /// <summary>The pod selector; empty for a service without one (its EndpointSlices are written by its users).</summary>
    public IReadOnlyDictionary<string, string> Selector { get; init; } = new Dictionary<string, string>();

    internal static KubernetesServiceInfo From(Service service)
    {
        ServiceSpec spec = service.Spec;
        bool headless = spec.ClusterIP == "None";
        string affinity = spec.SessionAffinity ?? "None";
        TimeSpan? timeout = affinity == "ClientIP" ? TimeSpan.FromSeconds(spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? DefaultSessionAffinityTimeoutSeconds) : null;
        List<string> clusterIPs = [.. (spec.ClusterIPs is { Count: > 0 } ips ? ips : spec.ClusterIP is string ip ? [ip] : []).Where(static ip => ip.Length > 0 && ip != "None")];
        List<KubernetesServicePort> ports = [.. (spec.Ports ?? []).Select(KubernetesServicePort.From)];
        return new KubernetesServiceInfo(spec.Type ?? "ClusterIP", headless || string.IsNullOrEmpty(spec.ClusterIP) ? null : spec.ClusterIP, headless,
            affinity, timeout, spec.TrafficDistribution, ports)
        {
            ClusterIPs = clusterIPs,
            Selector = spec.Selector is { Count: > 0 } selector ? new Dictionary<string, string>(selector, StringComparer.Ordinal) : new Dictionary<string, string>(),
        };
    }
}
