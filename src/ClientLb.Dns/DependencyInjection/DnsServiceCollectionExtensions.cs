using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Source;
using ClientLb.Sources;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the ClientLb DNS source.</summary>
public static class DnsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the DNS endpoint source factory (as one of the <see cref="IEndpointSourceFactory"/> services), its options,
    /// the resolver settings (resolv.conf with overrides, read once at first use) and ClientLb's own DNS client.
    /// </summary>
    public static IServiceCollection AddClientLbDns(this IServiceCollection services, Action<DnsSourceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        // The core first, so the configuration source stays ahead of DNS: an explicitly configured service wins.
        services.AddClientLb();
        OptionsBuilder<DnsSourceOptions> options = services.AddOptions<DnsSourceOptions>();
        // The configuration section (environment variables, appsettings.json) first, then the code's delegates; bound once
        // however often this is called.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<DnsSourceOptions>, DnsOptionsFromConfiguration>());
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DnsSourceOptions>, DnsSourceOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => DnsResolverSettings.FromOptions(sp.GetRequiredService<IOptions<DnsSourceOptions>>().Value));
        services.TryAddSingleton<IDnsClient, DnsStubClient>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSourceFactory, DnsEndpointSourceFactory>());
        return services;
    }
}

/// <summary>Binds <see cref="DnsSourceOptions.SectionName"/> when the container has an <see cref="IConfiguration"/>.</summary>
internal sealed class DnsOptionsFromConfiguration(IServiceProvider services) : IConfigureOptions<DnsSourceOptions>
{
    public void Configure(DnsSourceOptions options) => services.GetService<IConfiguration>()?.GetSection(DnsSourceOptions.SectionName).Bind(options);
}
