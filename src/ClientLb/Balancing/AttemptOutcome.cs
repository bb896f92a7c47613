using ClientLb.Balancing;

namespace ClientLb.Balancing;

/// <summary>
/// What the end of one attempt tells passive health about its endpoint (<see cref="ServiceBalancer.EndAttempt"/>). The
/// protocol's classifier decides it: an HTTP 5xx and a gRPC UNAVAILABLE are both <see cref="ServerUnavailable"/>.
/// </summary>
public enum AttemptOutcome
{
    /// <summary>The endpoint answered (any answer that is not <see cref="ServerUnavailable"/>): a run of failures ends, and a timed attempt's latency counts.</summary>
    Answered,

    /// <summary>The endpoint answered that it cannot serve (HTTP 5xx, gRPC UNAVAILABLE): counts toward the server-error ejection; its latency counts too.</summary>
    ServerUnavailable,

    /// <summary>No connection could be made (refused, unreachable, the connect timed out): counts toward the connection-failure ejection.</summary>
    ConnectionFailed,

    /// <summary>The connection failed after the request may have been sent: counts toward the connection-failure ejection.</summary>
    TransportFailed,

    /// <summary>The endpoint's connection pool was closed under a racing pick (it left the service): says nothing of its health.</summary>
    EndpointLeft,
}
