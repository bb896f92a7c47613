using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ClientLb.Diagnostics;
using ClientLb.LoadBalancing;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ClientLb.ServiceDiscovery;

/// <summary>
/// The one registry of a process: maps a service to its live balancer. Every HttpClient, gRPC
/// channel or CLI command asking for the same service shares one source, one watch or refresh loop.
/// </summary>
public sealed class ServiceRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<ServiceBalancer>> _balancers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<IEndpointSource>> _sources = new(StringComparer.Ordinal);
    private readonly IEndpointSourceFactory[] _factories;
    private readonly Dictionary<string, ILoadBalancingPolicy> _policies;
    private readonly IOptionsMonitor<ClientLbOptions> _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IDisposable? _onOptionsChange;
    private static readonly ServiceOptions DefaultServiceOptions = new();

    /// <summary>Creates the registry (normally through <c>services.AddClientLb()</c>).</summary>
    public ServiceRegistry(IEnumerable<IEndpointSourceFactory> factories, IEnumerable<ILoadBalancingPolicy> policies,
        IOptionsMonitor<ClientLbOptions> options, ServiceNameDefaults defaults, ClientLbMetrics metrics, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _factories = [.. factories];
        _policies = policies.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        _options = options;
        Defaults = defaults;
        Metrics = metrics;
        TimeProvider = timeProvider ?? TimeProvider.System;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("ClientLb");
        // A policy change in configuration rebuilds pickers (endpoint changes arrive through the sources).
        _onOptionsChange = options.OnChange(_ =>
        {
            foreach (Lazy<ServiceBalancer> balancer in _balancers.Values)
            {
                if (balancer.IsValueCreated)
                {
                    balancer.Value.Rebuild();
                }
            }
        });
        metrics.ObserveEndpoints(ObserveEndpoints);
        metrics.ObserveEndpointStates(() => Balancers.SelectMany(b => b.KnownEndpoints), TimeProvider);
    }

    /// <summary>How short names expand.</summary>
    public ServiceNameDefaults Defaults { get; }

    /// <summary>The clock for staleness and timeouts.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The metrics instruments.</summary>
    public ClientLbMetrics Metrics { get; }

    /// <summary>The options.</summary>
    public ClientLbOptions Options => _options.CurrentValue;

    /// <summary>The balancers created so far.</summary>
    public IReadOnlyCollection<ServiceBalancer> Balancers => [.. _balancers.Values.Where(l => l.IsValueCreated).Select(l => l.Value)];

    /// <summary>Parses <paramref name="name"/> with this registry's defaults and returns its balancer.</summary>
    public ServiceBalancer GetBalancer(string name) => GetBalancer(ServiceName.Parse(name, Defaults));

    /// <summary>Returns the balancer of <paramref name="service"/>, creating it (and its source) on first use.</summary>
    /// <exception cref="ServiceNotFoundException">No source serves the service.</exception>
    public ServiceBalancer GetBalancer(ServiceName service)
    {
        ArgumentNullException.ThrowIfNull(service);
        string key = service.Schemes.Count == 0 ? service.Id : service.Id + "|" + string.Join('+', service.Schemes);
        Lazy<ServiceBalancer> lazy = _balancers.GetOrAdd(key, static (_, state) =>
            new Lazy<ServiceBalancer>(() => state.Item1.Create(state.Item2)), (this, service));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Do not cache a failure: configuration may be fixed and the next call should see it.
            _balancers.TryRemove(new KeyValuePair<string, Lazy<ServiceBalancer>>(key, lazy));
            throw;
        }
    }

    // One source per service (name, namespace, port selector); one balancer per source and scheme preference.
    private ServiceBalancer Create(ServiceName service)
    {
        Lazy<IEndpointSource> lazy = _sources.GetOrAdd(service.Id, static (_, state) =>
            new Lazy<IEndpointSource>(() => state.Item1.CreateSource(state.Item2)), (this, service));
        IEndpointSource source;
        try
        {
            source = lazy.Value;
        }
        catch
        {
            _sources.TryRemove(new KeyValuePair<string, Lazy<IEndpointSource>>(service.Id, lazy));
            throw;
        }
        return new ServiceBalancer(service, source, () => SettingsFor(service), _loggerFactory.CreateLogger("ClientLb.Balancer"), TimeProvider, Metrics);
    }

    private IEndpointSource CreateSource(ServiceName service)
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

    // The service's configuration entry (with or without endpoints) sets its policy and parameters; else the defaults.
    private BalancerSettings SettingsFor(ServiceName service)
    {
        ClientLbOptions options = _options.CurrentValue;
        string name = options.DefaultPolicy;
        ServiceOptions serviceOptions = DefaultServiceOptions;
        if (Sources.ConfigurationSourceFactory.TryFind(options, service, Defaults, out _, out ServiceOptions? entry))
        {
            serviceOptions = entry;
            if (!string.IsNullOrEmpty(entry.Policy))
            {
                name = entry.Policy;
            }
        }
        return _policies.TryGetValue(name, out ILoadBalancingPolicy? policy)
            ? new BalancerSettings(policy, serviceOptions, options.Locality, !string.IsNullOrEmpty(entry?.Policy))
            : throw new Configuration.ClientLbConfigurationException($"{ClientLbOptions.SectionName}:Services:{service.Name}:Policy", name,
                $"unknown policy; known: {string.Join(", ", _policies.Keys.Order())}");
    }

    private IEnumerable<Measurement<int>> ObserveEndpoints()
    {
        foreach (ServiceBalancer balancer in Balancers)
        {
            var service = new KeyValuePair<string, object?>("clientlb.service", balancer.Service.Id);
            yield return new Measurement<int>(balancer.EligibleCount, service, new("clientlb.state", "eligible"));
            yield return new Measurement<int>(balancer.Source.Current?.Endpoints.Length ?? 0, service, new("clientlb.state", "known"));
        }
    }

    /// <summary>Stops every source.</summary>
    public async ValueTask DisposeAsync()
    {
        _onOptionsChange?.Dispose();
        foreach (ServiceBalancer balancer in Balancers)
        {
            await balancer.DisposeAsync().ConfigureAwait(false);
        }
        _balancers.Clear();
        foreach (Lazy<IEndpointSource> source in _sources.Values.Where(s => s.IsValueCreated))
        {
            await source.Value.DisposeAsync().ConfigureAwait(false);
        }
        _sources.Clear();
    }
}

/// <summary>No registered source serves a service.</summary>
public sealed class ServiceNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ServiceNotFoundException(ServiceName service, IReadOnlyList<string> sourcesAsked)
        : base($"Service '{service}' is not known to any source (asked: {(sourcesAsked.Count == 0 ? "none registered" : string.Join(", ", sourcesAsked))}). " +
               $"Configure it under {ClientLbOptions.SectionName}:Services:{service.Name}, or add a discovery source (DNS, Kubernetes).")
    {
        Service = service;
        SourcesAsked = sourcesAsked;
    }

    /// <summary>The service.</summary>
    public ServiceName Service { get; }

    /// <summary>The kinds of sources that were asked.</summary>
    public IReadOnlyList<string> SourcesAsked { get; }
}
