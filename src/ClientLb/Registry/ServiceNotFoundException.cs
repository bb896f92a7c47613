using ClientLb.Names;

namespace ClientLb.Registry;

/// <summary>No registered source serves a service.</summary>
public sealed class ServiceNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ServiceNotFoundException(ServiceName service, IReadOnlyList<string> sourcesAsked)
        : base($"Service '{service}' is not known to any source (asked: {(sourcesAsked.Count == 0 ? "none registered" : string.Join(", ", sourcesAsked))}). " +
               $"Configure it under {ClientLbOptions.SectionName}:Services:{service.Name}, or add a discovery source (DNS, Kubernetes).")
    {
        Service = service;
        SourcesAsked = sourcesAsked;
    }

    /// <summary>The service.</summary>
    public ServiceName Service { get; }

    /// <summary>The kinds of sources that were asked.</summary>
    public IReadOnlyList<string> SourcesAsked { get; }
}
