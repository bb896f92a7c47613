using ClientLb.Grpc.Health;
using ClientLb.Registry;
using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// grpc-dotnet's resolver for the scheme <c>clientlb</c>: <c>GrpcChannel.ForAddress("clientlb:///greeter.default:grpc", ...)</c>
/// resolves the service through whichever ClientLb source serves it (configuration, Kubernetes, DNS), with every name
/// form ClientLb accepts. <c>services.AddClientLbGrpc()</c> registers it; the channel finds it through
/// <c>GrpcChannelOptions.ServiceProvider</c> (AddGrpcClient sets that).
/// </summary>
public sealed class ClientLbResolverFactory : ResolverFactory
{
    /// <summary>The scheme, <c>clientlb</c>.</summary>
    public const string Scheme = "clientlb";

    private readonly ServiceRegistry _registry;
    private readonly GrpcHealthMonitor? _health;

    /// <summary>
    /// Creates the factory over <paramref name="registry"/> (the process's one, from dependency injection); services that
    /// <paramref name="health"/> has checks configured for are checked with grpc.health.v1 on this path too.
    /// </summary>
    public ClientLbResolverFactory(ServiceRegistry registry, GrpcHealthMonitor? health = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _health = health;
    }

    /// <inheritdoc />
    public override string Name => Scheme;

    /// <inheritdoc />
    public override Resolver Create(ResolverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        BalancerPolicyNames.Validate(options);
        return new ClientLbResolver(_registry, _health, options, options.LoggerFactory.CreateLogger<ClientLbResolver>());
    }
}
