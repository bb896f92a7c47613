using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Source;

/// <summary>What the v1 Service says beyond its endpoints, for balancing decisions (affinity, traffic distribution).</summary>
/// <param name="Type">ClusterIP, NodePort, LoadBalancer or ExternalName.</param>
/// <param name="ClusterIP">The virtual IP, or null for a headless service.</param>
/// <param name="IsHeadless">clusterIP None.</param>
/// <param name="SessionAffinity">None or ClientIP.</param>
/// <param name="SessionAffinityTimeout">The ClientIP affinity timeout (Kubernetes' default 10800 s when ClientIP and unset).</param>
/// <param name="TrafficDistribution">E.g. PreferClose, PreferSameZone, PreferSameNode; null when unset.</param>
public sealed record KubernetesServiceInfo(string Type, string? ClusterIP, bool IsHeadless, string SessionAffinity, TimeSpan? SessionAffinityTimeout,
    string? TrafficDistribution)
{
    /// <summary>The Service ports (the JSON model, internal).</summary>
    internal IReadOnlyList<ServicePort> Ports { get; init; } = [];

    internal static KubernetesServiceInfo From(Service service)
    {
        ServiceSpec spec = service.Spec;
        bool headless = spec.ClusterIP == "None";
        string affinity = spec.SessionAffinity ?? "None";
        TimeSpan? timeout = affinity == "ClientIP" ? TimeSpan.FromSeconds(spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? 10800) : null;
        return new KubernetesServiceInfo(spec.Type ?? "ClusterIP", headless || string.IsNullOrEmpty(spec.ClusterIP) ? null : spec.ClusterIP, headless,
            affinity, timeout, spec.TrafficDistribution) { Ports = spec.Ports ?? [] };
    }
}

/// <summary>A source backed by the Kubernetes API; balancers may read the Service's settings through it.</summary>
public interface IKubernetesEndpointSource : ClientLb.Sources.IEndpointSource
{
    /// <summary>The Service's settings, or null while it is unknown (not listed yet, or no Service object).</summary>
    KubernetesServiceInfo? ServiceInfo { get; }
}
