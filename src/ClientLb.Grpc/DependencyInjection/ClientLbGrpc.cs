using ClientLb.Grpc.Balancing;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Health;
using ClientLb.Grpc.Resolution;
using ClientLb.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ClientLb.Grpc;

/// <summary>
/// Creates ClientLb's gRPC handler for a channel:
/// <code>
/// var channel = GrpcChannel.ForAddress("http://greeter.shop", new GrpcChannelOptions { HttpHandler = ClientLbGrpc.CreateHandler(serviceProvider) });
/// </code>
/// </summary>
public static class ClientLbGrpc
{
    /// <summary>
    /// A handler from a container where <c>services.AddClientLbGrpc()</c> ran: it shares the container's registry (sources,
    /// balancers, connection pools) and its health monitor. Dispose it with the channel.
    /// </summary>
    /// <exception cref="InvalidOperationException">AddClientLbGrpc was not called on the container.</exception>
    public static ClientLbGrpcHandler CreateHandler(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        GrpcHealthMonitor monitor = services.GetService<GrpcHealthMonitor>()
            ?? throw new InvalidOperationException("ClientLb gRPC is not registered in this service provider: call services.AddClientLbGrpc() (or AddGrpcClient<T>(...).AddClientLbGrpc()) first.");
        return new ClientLbGrpcHandler(services.GetRequiredService<ServiceRegistry>(), services.GetRequiredService<IOptions<ClientLbGrpcOptions>>().Value,
            monitor, services.GetService<ILoggerFactory>());
    }

    /// <summary>
    /// A handler over <paramref name="registry"/> with its own options; it runs its own health checks when
    /// <paramref name="options"/> configures any, and stops them when disposed.
    /// </summary>
    /// <exception cref="OptionsValidationException">The options are invalid (each fault is named).</exception>
    public static ClientLbGrpcHandler CreateHandler(ServiceRegistry registry, ClientLbGrpcOptions? options = null, ILoggerFactory? loggerFactory = null) =>
        new(registry, options, loggerFactory);

    /// <summary>
    /// The HTTP handler for a <c>clientlb:///</c> channel (<c>GrpcChannelOptions.HttpHandler</c>), from a container where
    /// <c>services.AddClientLbGrpc()</c> ran: answers of the methods in <c>ClientLb:Grpc:UnaryMethods</c> are read to their
    /// end (at most <c>MaxReplayBufferBytes</c>) before grpc-dotnet sees them, so a connection lost before the trailers
    /// (a backend killed mid-answer) is still retried by the channel's retry policy; grpc-dotnet stops retrying a call once
    /// its response headers arrive. Over a <see cref="System.Net.Http.SocketsHttpHandler"/>, so grpc-dotnet keeps its
    /// subchannels and connections.
    /// </summary>
    /// <exception cref="InvalidOperationException">AddClientLbGrpc was not called on the container.</exception>
    /// <exception cref="OptionsValidationException">The <c>ClientLb:Grpc</c> options are invalid (each fault is named).</exception>
    public static HttpMessageHandler CreateResolverHandler(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = services.GetService<GrpcHealthMonitor>()
            ?? throw new InvalidOperationException("ClientLb gRPC is not registered in this service provider: call services.AddClientLbGrpc() first.");
        ClientLbGrpcOptions options = services.GetRequiredService<IOptions<ClientLbGrpcOptions>>().Value;
        return new UnaryReadAheadHandler(new MethodSet(options.UnaryMethods), options.MaxReplayBufferBytes,
            new System.Net.Http.SocketsHttpHandler { EnableMultipleHttp2Connections = true });
    }
}
