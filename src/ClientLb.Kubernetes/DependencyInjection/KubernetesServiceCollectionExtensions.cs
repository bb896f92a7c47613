using System.Diagnostics.Metrics;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Health;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Sources;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the ClientLb Kubernetes source.</summary>
public static class KubernetesServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Kubernetes endpoint source factory (one of the <see cref="IEndpointSourceFactory"/> services, after the
    /// configuration source), its options and metrics. A KubernetesClient <c>k8s.IKubernetes</c> registered before carries
    /// the requests (its HttpClient and credentials); else the built-in client is configured from the kubeconfig or the
    /// in-cluster service account on first use.
    /// </summary>
    public static IServiceCollection AddClientLbKubernetes(this IServiceCollection services, Action<KubernetesSourceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        // The core first, so the configuration source stays ahead: an explicitly configured service wins.
        services.AddClientLb();
        OptionsBuilder<KubernetesSourceOptions> options = services.AddOptions<KubernetesSourceOptions>();
        // The configuration section (environment variables, appsettings.json) first, then the code's delegates; bound once
        // however often this is called.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<KubernetesSourceOptions>, KubernetesOptionsFromConfiguration>());
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KubernetesSourceOptions>, KubernetesSourceOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new KubernetesMetrics(sp.GetService<IMeterFactory>()));
        // An IKubernetesApi in the container (internal: tests and benchmarks serve slices from memory) comes first.
        services.TryAddSingleton(sp => new KubernetesEndpointSourceFactory(
            sp.GetRequiredService<IOptions<KubernetesSourceOptions>>(), sp.GetService<IKubernetesApi>() ?? FromKubernetesClient(sp), sp,
            sp.GetRequiredService<TimeProvider>(), sp.GetService<ILoggerFactory>(), sp.GetRequiredService<KubernetesMetrics>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSourceFactory, KubernetesEndpointSourceFactory>(sp => sp.GetRequiredService<KubernetesEndpointSourceFactory>()));
        return services;
    }

    /// <summary>The application's KubernetesClient client, if it registered one: ClientLb's requests then go through it.</summary>
    private static KubernetesApiClient? FromKubernetesClient(IServiceProvider services)
    {
        if (services.GetService<k8s.IKubernetes>() is not k8s.Kubernetes kubernetes)
        {
            return null;
        }
        KubernetesSourceOptions options = services.GetRequiredService<IOptions<KubernetesSourceOptions>>().Value;
        return new KubernetesApiClient(kubernetes, options.RequestTimeout) { MaxEventBytes = options.MaxEventBytes };
    }

    /// <summary>
    /// Adds <see cref="KubernetesHealthCheck"/>: Degraded when a watched service is stale or has no endpoints,
    /// <paramref name="failureStatus"/> (default Unhealthy) when one could never be read.
    /// </summary>
    public static IHealthChecksBuilder AddClientLbKubernetes(this IHealthChecksBuilder builder, string name = "clientlb-kubernetes", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddClientLbKubernetes();
        return builder.Add(new HealthCheckRegistration(name,
            sp => new KubernetesHealthCheck(sp.GetRequiredService<KubernetesEndpointSourceFactory>(), sp.GetRequiredService<IOptions<KubernetesSourceOptions>>(), sp.GetRequiredService<TimeProvider>()),
            failureStatus, tags));
    }
}

/// <summary>Binds <see cref="KubernetesSourceOptions.SectionName"/> when the container has an <see cref="IConfiguration"/>.</summary>
internal sealed class KubernetesOptionsFromConfiguration(IServiceProvider services) : IConfigureOptions<KubernetesSourceOptions>
{
    public void Configure(KubernetesSourceOptions options) => services.GetService<IConfiguration>()?.GetSection(KubernetesSourceOptions.SectionName).Bind(options);
}
