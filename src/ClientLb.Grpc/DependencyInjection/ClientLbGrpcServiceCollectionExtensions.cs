using ClientLb.Grpc;
using ClientLb.Grpc.Balancing;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Health;
using ClientLb.Grpc.Resolution;
using ClientLb.Registry;
using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ClientLb's gRPC support and attaches it to gRPC clients.</summary>
public static class ClientLbGrpcServiceCollectionExtensions
{
    /// <summary>
    /// Adds the ClientLb core (<c>AddClientLb()</c>), <see cref="ClientLbGrpcOptions"/> bound from <c>ClientLb:Grpc</c> and
    /// validated at first use, the process's <see cref="GrpcHealthMonitor"/>, grpc-dotnet's resolver for <c>clientlb:///</c>
    /// addresses (<see cref="ClientLbResolverFactory"/>) and the <c>clientlb_*</c> load balancers
    /// (<see cref="ClientLbBalancerFactory"/>). Safe to call more than once.
    /// </summary>
    public static IServiceCollection AddClientLbGrpc(this IServiceCollection services, Action<ClientLbGrpcOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddClientLb();
        if (!services.Any(d => d.ServiceType == typeof(GrpcHealthMonitor)))
        {
            services.AddOptions();
            services.AddSingleton<IConfigureOptions<ClientLbGrpcOptions>>(sp => new ConfigureNamedOptions<ClientLbGrpcOptions>(Options.Options.DefaultName,
                options => sp.GetService<IConfiguration>()?.GetSection(ClientLbGrpcOptions.SectionName).Bind(options)));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClientLbGrpcOptions>, ClientLbGrpcOptionsValidator>());
            services.AddSingleton(sp => new GrpcHealthMonitor(sp.GetRequiredService<ServiceRegistry>(),
                sp.GetRequiredService<IOptions<ClientLbGrpcOptions>>().Value, sp.GetService<ILoggerFactory>()));
            // grpc-dotnet takes resolvers and balancers from GrpcChannelOptions.ServiceProvider: clientlb:/// addresses and
            // the clientlb_* policies work on any channel built with this container (AddGrpcClient sets it).
            services.AddSingleton<ResolverFactory>(sp => new ClientLbResolverFactory(sp.GetRequiredService<ServiceRegistry>(), sp.GetRequiredService<GrpcHealthMonitor>()));
            foreach (ClientLbBalancerFactory factory in ClientLbBalancerFactory.All)
            {
                services.AddSingleton<LoadBalancerFactory>(factory);
            }
        }
        if (configure is not null)
        {
            services.Configure(configure);
        }
        return services;
    }

    /// <summary>
    /// Makes this client's calls balanced per call by ClientLb with gRPC awareness: its primary handler becomes a
    /// <see cref="ClientLbGrpcHandler"/> (UNAVAILABLE-aware health and retry, active health checks). Use it on the builder
    /// <c>services.AddGrpcClient&lt;T&gt;(o =&gt; o.Address = new Uri("http://greeter.shop"))</c> returns.
    /// </summary>
    public static IHttpClientBuilder AddClientLbGrpc(this IHttpClientBuilder builder, Action<ClientLbGrpcOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddClientLbGrpc(configure);
        builder.ConfigurePrimaryHttpMessageHandler(ClientLbGrpc.CreateHandler);
        return builder;
    }
}
