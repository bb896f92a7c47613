using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Configuration;
using ClientLb.Diagnostics;
using ClientLb.Names;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ClientLb.Registry;

/// <summary>
/// Builds what serves one service: its source (from the first factory, in registration order, that knows the service)
/// and its balancer, with the policy and parameters that configuration gives the service (read again at each rebuild).
/// The <see cref="ServiceRegistry"/> decides when to build and how long the parts live.
/// </summary>
internal sealed class ServiceBuilder
{
    private static readonly ServiceOptions DefaultServiceOptions = new();
    private readonly IEndpointSourceFactory[] _factories;
    private readonly Dictionary<string, ILoadBalancingPolicy> _policies;
    private readonly IOptionsMonitor<ClientLbOptions> _options;
    private readonly ServiceNameDefaults _defaults;
    private readonly ClientLbMetrics _metrics;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    // One delegate for every balancer this builds (a closure per service would cost each ~100 bytes).
    private Func<ServiceName, BalancerSettings>? _settingsFor;

    public ServiceBuilder(IEnumerable<IEndpointSourceFactory> factories, IEnumerable<ILoadBalancingPolicy> policies, IOptionsMonitor<ClientLbOptions> options,
        ServiceNameDefaults defaults, ClientLbMetrics metrics, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        _factories = [.. factories];
        _policies = policies.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        _options = options;
        _defaults = defaults;
        _metrics = metrics;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("ClientLb");
        _timeProvider = timeProvider;
    }

    /// <exception cref="ServiceNotFoundException">No factory knows the service.</exception>
    public IEndpointSource CreateSource(ServiceName service)
    {
        foreach (IEndpointSourceFactory factory in _factories)
        {
            if (factory.TryCreate(service) is IEndpointSource source)
            {
                Log.SourceCreated(_logger, service.Id, source.Description);
                return source;
            }
        }
        throw new ServiceNotFoundException(service, [.. _factories.Select(f => f.Kind)]);
    }

    public ServiceBalancer CreateBalancer(ServiceName service, IEndpointSource source) =>
        new(service, source, _settingsFor ??= SettingsFor, _loggerFactory.CreateLogger("ClientLb.Balancer"), _timeProvider, _metrics);

    // The service's configuration entry (with or without endpoints) sets its policy and parameters; else the defaults.
    private BalancerSettings SettingsFor(ServiceName service)
    {
        ClientLbOptions options = _options.CurrentValue;
        string name = options.DefaultPolicy;
        ServiceOptions serviceOptions = DefaultServiceOptions;
        if (ConfigurationSourceFactory.TryFind(options, service, _defaults, out _, out ServiceOptions? entry))
        {
            serviceOptions = entry;
            if (!string.IsNullOrEmpty(entry.Policy))
            {
                name = entry.Policy;
            }
        }
        return _policies.TryGetValue(name, out ILoadBalancingPolicy? policy)
            ? new BalancerSettings(policy, serviceOptions, options.Locality, !string.IsNullOrEmpty(entry?.Policy))
            : throw new ClientLbConfigurationException($"{ClientLbOptions.SectionName}:Services:{service.Name}:Policy", name,
                $"unknown policy; known: {string.Join(", ", _policies.Keys.Order())}");
    }
}
