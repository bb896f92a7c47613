using System.Diagnostics.Metrics;
using ClientLb;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Configuration;
using ClientLb.Diagnostics;
using ClientLb.Http;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ClientLb with dependency injection and attaches it to HttpClients.</summary>
public static class ClientLbServiceCollectionExtensions
{
    /// <summary>
    /// Adds the ClientLb core: the process-wide <see cref="ServiceRegistry"/>, the configuration source
    /// (<c>ClientLb:Services</c> and <c>Services</c> sections), the built-in policies, metrics and options.
    /// Safe to call more than once. Attach it to a client with <see cref="AddClientLb(IHttpClientBuilder)"/>.
    /// </summary>
    public static IServiceCollection AddClientLb(this IServiceCollection services, Action<ClientLbOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => d.ServiceType == typeof(ServiceRegistry)))
        {
            services.AddOptions();
            services.AddSingleton<IConfigureOptions<ClientLbOptions>>(sp => new ClientLbOptionsSetup(sp.GetService<IConfiguration>()));
            services.AddSingleton<IOptionsChangeTokenSource<ClientLbOptions>>(sp =>
                new ConfigurationChangeTokenSource<ClientLbOptions>(sp.GetService<IConfiguration>() ?? new ConfigurationBuilder().Build()));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClientLbOptions>, ClientLbOptionsValidator>(sp =>
                new ClientLbOptionsValidator(sp.GetServices<ILoadBalancingPolicy>().Select(p => p.Name))));
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton(sp =>
            {
                ClientLbOptions options = sp.GetRequiredService<IOptionsMonitor<ClientLbOptions>>().CurrentValue;
                return ServiceNameDefaults.Resolve(options.Namespace, options.ClusterDomain);
            });
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, AutoPolicy>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, RoundRobinPolicy>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, RandomPolicy>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, PowerOfTwoChoicesPolicy>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, PeakEwmaPolicy>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, WeightedPolicy>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, HashPolicy>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, StickyPolicy>());
            // The configuration source is asked first: an explicitly configured service wins over discovery.
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSourceFactory, ConfigurationSourceFactory>());
            services.TryAddSingleton(sp => new ClientLbMetrics(sp.GetService<IMeterFactory>()));
            services.TryAddSingleton(sp => new ServiceRegistry(
                sp.GetServices<IEndpointSourceFactory>(), sp.GetServices<ILoadBalancingPolicy>(),
                sp.GetRequiredService<IOptionsMonitor<ClientLbOptions>>(), sp.GetRequiredService<ServiceNameDefaults>(),
                sp.GetRequiredService<ClientLbMetrics>(), sp.GetService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        }
        if (configure is not null)
        {
            services.Configure(configure);
        }
        return services;
    }

    /// <summary>
    /// Makes this HttpClient balance its requests with ClientLb: its primary handler becomes a
    /// <see cref="ClientLbHttpHandler"/>, so each request picks an endpoint of the service its URI names
    /// (set <c>BaseAddress</c> to e.g. <c>http://payments.finance</c>). Delegating handlers added to the
    /// client still run before it, once per request.
    /// </summary>
    public static IHttpClientBuilder AddClientLb(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddClientLb();
        builder.ConfigurePrimaryHttpMessageHandler(sp => new ClientLbHttpHandler(
            sp.GetRequiredService<ServiceRegistry>(), sp.GetService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        return builder;
    }
}
