using ClientLb.Kubernetes.Slices;

namespace ClientLb.Kubernetes.Sources;

/// <summary>A source backed by the Kubernetes API; balancers may read the Service's settings through it.</summary>
public interface IKubernetesEndpointSource : ClientLb.Sources.IEndpointSource
{
    /// <summary>The Service's settings, or null while it is unknown (not listed yet, or no Service object).</summary>
    KubernetesServiceInfo? ServiceInfo { get; }
}
