using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Slices;

/// <summary>What the v1 Service says beyond its endpoints, for balancing and programming decisions (VIPs, ports, affinity, traffic distribution).</summary>
/// <param name="Type">ClusterIP, NodePort, LoadBalancer or ExternalName.</param>
/// <param name="ClusterIP">The virtual IP, or null for a headless service.</param>
/// <param name="IsHeadless">clusterIP None.</param>
/// <param name="SessionAffinity">None or ClientIP.</param>
/// <param name="SessionAffinityTimeout">The ClientIP affinity timeout (<see cref="DefaultSessionAffinityTimeoutSeconds"/> when ClientIP and unset).</param>
/// <param name="TrafficDistribution">E.g. PreferClose, PreferSameZone, PreferSameNode; null when unset.</param>
public sealed record KubernetesServiceInfo(string Type, string? ClusterIP, bool IsHeadless, string SessionAffinity, TimeSpan? SessionAffinityTimeout,
    string? TrafficDistribution)
{
    /// <summary>Kubernetes' (and kube-proxy's) ClientIP affinity timeout when the Service sets none: 10800 s (3 hours).</summary>
    public const int DefaultSessionAffinityTimeoutSeconds = 10800;

    // Every source of a service keeps its info: the lists below are made on first use from the Service it was read from.
    private readonly ServiceSpec? _spec;
    private IReadOnlyList<KubernetesServicePort>? _ports;
    private IReadOnlyList<string>? _clusterIPs;
    private IReadOnlyDictionary<string, string>? _selector;

    private KubernetesServiceInfo(ServiceSpec spec, bool headless, string affinity, TimeSpan? timeout)
        : this(spec.Type ?? "ClusterIP", headless || string.IsNullOrEmpty(spec.ClusterIP) ? null : spec.ClusterIP, headless, affinity, timeout, spec.TrafficDistribution)
    {
        _spec = spec;
    }

    /// <summary>The Service ports.</summary>
    public IReadOnlyList<KubernetesServicePort> Ports => _ports ??= [.. (_spec?.Ports ?? []).Select(KubernetesServicePort.From)];

    /// <summary>
    /// Every virtual IP (dual-stack: one per family, the first equal to <see cref="ClusterIP"/>); empty for a headless
    /// service, an ExternalName service or one without a cluster IP yet.
    /// </summary>
    public IReadOnlyList<string> ClusterIPs => _clusterIPs ??= _spec is null ? [] :
        [.. (_spec.ClusterIPs is { Count: > 0 } ips ? ips : _spec.ClusterIP is string ip ? [ip] : []).Where(static ip => ip.Length > 0 && ip != "None")];

    /// <summary>The pod selector; empty for a service without one (its EndpointSlices are written by its users).</summary>
    public IReadOnlyDictionary<string, string> Selector => _selector ??= _spec?.Selector is { Count: > 0 } selector
        ? new Dictionary<string, string>(selector, StringComparer.Ordinal)
        : new Dictionary<string, string>();

    internal static KubernetesServiceInfo From(Service service)
    {
        ServiceSpec spec = service.Spec;
        string affinity = spec.SessionAffinity ?? "None";
        TimeSpan? timeout = affinity == "ClientIP" ? TimeSpan.FromSeconds(spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? DefaultSessionAffinityTimeoutSeconds) : null;
        return new KubernetesServiceInfo(spec, spec.ClusterIP == "None", affinity, timeout);
    }
}
