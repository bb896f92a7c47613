using System.Net;
using System.Net.Sockets;
using ClientLb.Endpoints;

namespace ClientLb.Attempts;

/// <summary>
/// The connection pool of one endpoint: a <see cref="SocketsHttpHandler"/> whose connections all go to that
/// endpoint's address. The request URI keeps the logical name, so the Host header and the TLS SNI stay the
/// service name while the socket reaches the pod.
/// </summary>
internal sealed class EndpointTransport : IDisposable
{
    /// <summary>A connect that neither succeeds nor fails must not hang a request: bounded by default.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    private int _connections;

    public EndpointTransport(Endpoint endpoint, Action<SocketsHttpHandler>? configure)
    {
        EndPoint target = endpoint.EndPoint;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = DefaultConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            EnableMultipleHttp2Connections = true,
        };
        configure?.Invoke(handler);
        // These cannot work per endpoint: a proxy or a redirect would leave the endpoint, cookies would split per pod.
        handler.UseProxy = false;
        handler.AllowAutoRedirect = false;
        handler.UseCookies = false;
        handler.ConnectCallback = (_, cancellationToken) => ConnectAsync(target, cancellationToken);
        ConnectTimeout = handler.ConnectTimeout;
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public HttpMessageInvoker Invoker { get; }

    /// <summary>The pool's connect timeout (after the user's <c>ConfigureTransport</c>).</summary>
    public TimeSpan ConnectTimeout { get; }

    /// <summary>The shorter of <paramref name="bound"/> and the pool's connect timeout (either may be infinite).</summary>
    public TimeSpan BoundConnect(TimeSpan bound) =>
        bound == Timeout.InfiniteTimeSpan ? ConnectTimeout
        : ConnectTimeout == Timeout.InfiniteTimeSpan || bound < ConnectTimeout ? bound
        : ConnectTimeout;

    /// <summary>Whether a connection to the endpoint is open: a request then need not wait for a connect.</summary>
    public bool HasConnection => Volatile.Read(ref _connections) > 0;

    /// <summary>
    /// Sends <paramref name="request"/>. While no connection is open, the request waits for a connect, and the pool fails
    /// only the request that started a connect when it times out (the others queue for the next one): so the wait of each
    /// request is bounded here by <paramref name="connectBound"/>, and ends as a connection error (nothing was sent) unless a
    /// connection opened meanwhile. With a connection open this is the invoker's send, with nothing added.
    /// </summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, TimeSpan connectBound, TimeProvider time, CancellationToken cancellationToken)
    {
        if (HasConnection || connectBound == Timeout.InfiniteTimeSpan)
        {
            return Invoker.SendAsync(request, cancellationToken);
        }
        return SendConnectingAsync(request, connectBound, time, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendConnectingAsync(HttpRequestMessage request, TimeSpan connectBound, TimeProvider time, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var expiry = new ConnectExpiry(this, bounded);
        using ITimer timer = time.CreateTimer(static state => ((ConnectExpiry)state!).Fire(), expiry, connectBound, Timeout.InfiniteTimeSpan);
        try
        {
            return await Invoker.SendAsync(request, bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (expiry.Fired && !cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError,
                $"No connection within {connectBound.TotalMilliseconds:0} ms.", new SocketException((int)SocketError.TimedOut, ex.Message));
        }
    }

    private sealed class ConnectExpiry(EndpointTransport transport, CancellationTokenSource bounded)
    {
        private int _fired;

        public bool Fired => Volatile.Read(ref _fired) != 0;

        public void Fire()
        {
            // A connection that opened meanwhile carries the request (or soon will): never cancel a request that may be sent.
            if (!transport.HasConnection)
            {
                Volatile.Write(ref _fired, 1);
                try
                {
                    bounded.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The send ended as the timer fired.
                }
            }
        }
    }

    private async ValueTask<Stream> ConnectAsync(EndPoint target, CancellationToken cancellationToken)
    {
        Socket socket = target is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        try
        {
            await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _connections);
            return new CountedStream(socket, this);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A connection's stream that keeps <see cref="HasConnection"/> true while it is open.</summary>
    private sealed class CountedStream(Socket socket, EndpointTransport owner) : NetworkStream(socket, ownsSocket: true)
    {
        private int _closed;

        protected override void Dispose(bool disposing)
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._connections);
            }
            base.Dispose(disposing);
        }
    }

    public void Dispose() => Invoker.Dispose();
}
