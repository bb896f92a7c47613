using ClientLb.Grpc.Balancing;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Health;
using ClientLb.ServiceDiscovery;
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
}
