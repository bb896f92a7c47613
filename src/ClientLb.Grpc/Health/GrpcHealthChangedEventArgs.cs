using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Grpc.Health;

/// <summary>An endpoint's active-health verdict changed.</summary>
public sealed class GrpcHealthChangedEventArgs(ServiceName service, Endpoint endpoint, bool serving, string reason) : EventArgs
{
    /// <summary>The service.</summary>
    public ServiceName Service { get; } = service;

    /// <summary>The endpoint.</summary>
    public Endpoint Endpoint { get; } = endpoint;

    /// <summary>Whether the endpoint now serves (and may be picked).</summary>
    public bool Serving { get; } = serving;

    /// <summary>Why: the status it answered, or the failure that counted against it.</summary>
    public string Reason { get; } = reason;
}
