using ClientLb.Endpoints;
using ClientLb.LoadBalancing;

namespace ClientLb.Attempts;

/// <summary>
/// The connection pools of balanced endpoints, which every attempt is sent through (<see cref="AttemptLoop.Start"/>), HTTP
/// and gRPC alike. The pool is the endpoint's own: it lives while the endpoint stays in the service and closes when the
/// endpoint left and its last outstanding request ended.
/// </summary>
public sealed class EndpointTransports
{
    private readonly Func<Endpoint, EndpointTransport> _create;
    private readonly TimeProvider _time;

    /// <summary>Creates the accessor; <paramref name="configure"/> adjusts each pool created through it (as <see cref="ClientLbOptions.ConfigureTransport"/>).</summary>
    public EndpointTransports(Action<SocketsHttpHandler>? configure, TimeProvider? timeProvider = null)
    {
        _create = endpoint => new EndpointTransport(endpoint, configure);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// The invoker that sends over <paramref name="endpoint"/>'s connections, created on first use. The request URI keeps
    /// the service name (Host, TLS SNI); the socket reaches the endpoint. A pool closed under a racing pick throws
    /// <see cref="ObjectDisposedException"/> when used: nothing was sent.
    /// </summary>
    public HttpMessageInvoker Get(BalancedEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return endpoint.GetOrCreateTransport(_create).Invoker;
    }

    /// <summary>
    /// Sends <paramref name="request"/> over <paramref name="endpoint"/>'s connections. While the endpoint has no open
    /// connection, the wait for one is bounded by <paramref name="connectBound"/> (at most the pool's connect timeout): past
    /// it the send fails with a <see cref="HttpRequestError.ConnectionError"/>, nothing sent.
    /// </summary>
    public Task<HttpResponseMessage> SendAsync(BalancedEndpoint endpoint, HttpRequestMessage request, TimeSpan connectBound, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        EndpointTransport transport = endpoint.GetOrCreateTransport(_create);
        return transport.SendAsync(request, transport.BoundConnect(connectBound), _time, cancellationToken);
    }
}
