using ClientLb.Dns.Configuration;
using ClientLb.Kubernetes;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ServiceDiscovery;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ClientLb as a Microsoft.Extensions.ServiceDiscovery endpoint provider.</summary>
public static class ClientLbServiceDiscoveryExtensions
{
    /// <summary>
    /// Serves MESD (<c>AddServiceDiscovery()</c>, YARP's <c>AddServiceDiscoveryDestinationResolver()</c>) from ClientLb's
    /// sources: configuration first, then the Kubernetes EndpointSlice watch (in-cluster or kubeconfig), then DNS (SRV for
    /// named ports, headless A/AAAA). Every MESD query, HttpClient and ClientLb handler asking for one service shares one
    /// watch. MESD's change tokens fire on every published change. Configure the sources with
    /// <paramref name="kubernetes"/> and <paramref name="dns"/>.
    /// </summary>
    public static IServiceCollection AddClientLbEndpointProvider(this IServiceCollection services,
        Action<KubernetesSourceOptions>? kubernetes = null, Action<DnsSourceOptions>? dns = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddClientLbKubernetes(kubernetes);
        services.AddClientLbDns(dns);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceEndpointProviderFactory, ClientLbEndpointProviderFactory>(sp =>
            new ClientLbEndpointProviderFactory(sp.GetRequiredService<ServiceRegistry>(), sp.GetService<ILoggerFactory>())));
        return services;
    }
}
