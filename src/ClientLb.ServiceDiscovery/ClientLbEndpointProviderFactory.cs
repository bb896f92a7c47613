using System.Diagnostics.CodeAnalysis;
using System.Net;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.ServiceDiscovery;

namespace ClientLb.ServiceDiscovery;

/// <summary>
/// Serves Microsoft.Extensions.ServiceDiscovery queries (<c>http://greeter.default</c>, <c>https+http://_grpc.greeter</c>)
/// from ClientLb's <see cref="ServiceRegistry"/>: the same shared source (Kubernetes watch, DNS, configuration) and the
/// same eligibility rule as ClientLb's own handler. IP literals and <c>localhost</c> are left to MESD's pass-through provider.
/// </summary>
public sealed partial class ClientLbEndpointProviderFactory : IServiceEndpointProviderFactory
{
    private readonly ServiceRegistry _registry;
    private readonly ILogger _logger;

    /// <summary>Creates the factory over the process's registry.</summary>
    public ClientLbEndpointProviderFactory(ServiceRegistry registry, ILoggerFactory? loggerFactory = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ClientLb.ServiceDiscovery");
    }

    /// <inheritdoc />
    public bool TryCreateProvider(ServiceEndpointQuery query, [NotNullWhen(true)] out IServiceEndpointProvider? provider)
    {
        ArgumentNullException.ThrowIfNull(query);
        provider = null;
        if (IPAddress.TryParse(query.ServiceName.Trim('[', ']'), out _) || string.Equals(query.ServiceName, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        // The query's original text (a URL or a name) goes through ClientLb's one name parser: named ports, scheme lists.
        string text = query.ToString() ?? query.ServiceName;
        if (!ServiceName.TryParse(text, _registry.Defaults, out ServiceName? service, out string? error))
        {
            NotAServiceName(_logger, text, error);
            return false;
        }
        ServiceBalancerLease lease;
        try
        {
            lease = _registry.AcquireBalancer(service);
        }
        catch (ServiceNotFoundException)
        {
            return false;
        }
        provider = new ClientLbEndpointProvider(lease, service, query.ServiceName, _registry.Options.InitialResolutionTimeout);
        return true;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "MESD query {Query} is not a ClientLb service name ({Error}); left to the other providers")]
    private static partial void NotAServiceName(ILogger logger, string query, string error);
}
