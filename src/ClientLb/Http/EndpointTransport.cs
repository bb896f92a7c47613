using System.Net;
using System.Net.Sockets;
using ClientLb.Endpoints;

namespace ClientLb.Http;

/// <summary>
/// The connection pool of one endpoint: a <see cref="SocketsHttpHandler"/> whose connections all go to that
/// endpoint's address. The request URI keeps the logical name, so the Host header and the TLS SNI stay the
/// service name while the socket reaches the pod.
/// </summary>
internal sealed class EndpointTransport : IDisposable
{
    /// <summary>A connect that neither succeeds nor fails must not hang a request: bounded by default.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

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
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public HttpMessageInvoker Invoker { get; }

    private static async ValueTask<Stream> ConnectAsync(EndPoint target, CancellationToken cancellationToken)
    {
        var socket = target is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        try
        {
            await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => Invoker.Dispose();
}
