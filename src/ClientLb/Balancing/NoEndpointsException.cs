using ClientLb.Names;


namespace ClientLb.Balancing;

/// <summary>
/// A service has no endpoint that may receive traffic. Thrown at once, never after a wait, with the service,
/// the source and the reason (e.g. <c>no ready endpoints; 3 not ready</c>).
/// </summary>
public sealed class NoEndpointsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NoEndpointsException(ServiceName service, string source, string reason, Exception? inner = null)
        : base($"Service '{service}' (source {source}): {reason}" + (reason.EndsWith('.') ? "" : "."), inner)
    {
        Service = service;
        SourceDescription = source;
        Reason = reason;
    }

    /// <summary>The service.</summary>
    public ServiceName Service { get; }

    /// <summary>The source that was asked.</summary>
    public string SourceDescription { get; }

    /// <summary>Why nothing is eligible.</summary>
    public string Reason { get; }
}
