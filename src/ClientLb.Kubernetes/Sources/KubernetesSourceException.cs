using ClientLb.Names;


namespace ClientLb.Kubernetes.Sources;

/// <summary>The Kubernetes API was read, but it gives no endpoints for the name: no such Service, or no such port.</summary>
public sealed class KubernetesSourceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KubernetesSourceException(ServiceName service, string reason)
        : base($"Service '{service}' (kubernetes): {reason}")
    {
        Service = service;
    }

    /// <summary>The service asked for.</summary>
    public ServiceName Service { get; }
}
