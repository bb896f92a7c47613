using ClientLb.Names;


namespace ClientLb.Sources;

/// <summary>A source could not produce endpoints for a service and had no earlier snapshot to serve.</summary>
public sealed class EndpointSourceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EndpointSourceException(ServiceName service, string source, string reason, Exception? inner = null)
        : base($"Service '{service}' (source {source}): {reason}", inner)
    {
        Service = service;
        SourceDescription = source;
    }

    /// <summary>The service.</summary>
    public ServiceName Service { get; }

    /// <summary>The source description.</summary>
    public string SourceDescription { get; }
}
