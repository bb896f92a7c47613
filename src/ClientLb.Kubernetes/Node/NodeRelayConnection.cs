using System.Net.Sockets;
using ClientLb.Kubernetes.Node.Protocol;
using Grpc.Core;
using Grpc.Net.Client;

namespace ClientLb.Kubernetes.Node;

/// <summary>
/// One gRPC channel to the agent's relay over its Unix domain socket, shared by every service of a process. Each call
/// carries the process's own bearer token (call credentials), so the agent serves only what that token may read.
/// </summary>
internal sealed class NodeRelayConnection : IDisposable
{
    private readonly GrpcChannel _channel;

    /// <param name="socketPath">The relay's socket.</param>
    /// <param name="token">The SDK's current bearer token (re-read per call: projected tokens rotate); null sends none.</param>
    public NodeRelayConnection(string socketPath, Func<CancellationToken, ValueTask<string?>> token)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            // A hung agent (not dead: its socket stays open) is noticed by HTTP/2 pings within about 10 s.
            KeepAlivePingDelay = TimeSpan.FromSeconds(5),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            // One stream per watched Service: past the server's stream limit per connection, open another connection
            // instead of queueing the stream (a queued stream would neither serve nor fail over).
            EnableMultipleHttp2Connections = true,
        };
        CallCredentials credentials = CallCredentials.FromInterceptor(async (_, metadata) =>
        {
            if (await token(CancellationToken.None).ConfigureAwait(false) is { Length: > 0 } bearer)
            {
                metadata.Add("authorization", "Bearer " + bearer);
            }
        });
        _channel = GrpcChannel.ForAddress("http://clientlb-relay", new GrpcChannelOptions
        {
            HttpHandler = handler,
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure, credentials),
            // The socket is local to the node and guarded by its file permissions: no TLS to carry the token over.
            UnsafeUseInsecureChannelCallCredentials = true,
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
        Client = new NodeRelay.NodeRelayClient(_channel);
    }

    public string SocketPath { get; }

    public NodeRelay.NodeRelayClient Client { get; }

    /// <summary>Whether the socket file is there (the agent may still not answer).</summary>
    public bool SocketExists => File.Exists(SocketPath);

    public string Description => "node relay unix:" + SocketPath;

    public void Dispose() => _channel.Dispose();
}
