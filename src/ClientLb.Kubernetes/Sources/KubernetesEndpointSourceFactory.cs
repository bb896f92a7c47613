using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Node;
using ClientLb.Kubernetes.Watching;
using ClientLb.Names;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ClientLb.Kubernetes.Sources;

/// <summary>
/// Makes Kubernetes sources. The API configuration is found on first use (<see cref="KubernetesConnection.TryResolve"/>, a KubernetesClient configuration and client);
/// when there is none in <see cref="KubernetesConfigMode.Auto"/> mode this factory serves nothing, so a later
/// factory (DNS) can. All its sources share one <see cref="IKubernetesApi"/> and one set of watches.
/// </summary>
public sealed class KubernetesEndpointSourceFactory : IEndpointSourceFactory, IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly KubernetesSourceOptions _options;
    private readonly IServiceProvider? _services;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly KubernetesMetrics _metrics;
    private IKubernetesApi? _api;
    private KubernetesApiClient? _ownedApi;
    private KubernetesWatchManager? _manager;
    private NodeRelayViews? _relay;
    private bool _resolved;
    private string? _notServed;

    /// <summary>Creates the factory (<c>AddClientLbKubernetes</c> does). <paramref name="api"/> replaces the client built from the options (tests).</summary>
    internal KubernetesEndpointSourceFactory(IOptions<KubernetesSourceOptions> options, IKubernetesApi? api = null, IServiceProvider? services = null,
        TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, KubernetesMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _api = api;
        _services = services;
        _time = timeProvider ?? TimeProvider.System;
        _loggers = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger("ClientLb.Kubernetes");
        _metrics = metrics ?? new KubernetesMetrics();
    }

    /// <inheritdoc />
    public string Kind => "kubernetes";

    /// <summary>The API in use, once the first source was made (null when there is no configuration).</summary>
    internal IKubernetesApi? Api
    {
        get
        {
            lock (_gate)
            {
                return _manager?.Api;
            }
        }
    }

    internal KubernetesWatchManager? Manager
    {
        get
        {
            lock (_gate)
            {
                return _manager;
            }
        }
    }

    /// <inheritdoc />
    /// <exception cref="KubernetesConfigException">The configuration is invalid (named file and key).</exception>
    public IEndpointSource? TryCreate(ServiceName service)
    {
        ArgumentNullException.ThrowIfNull(service);
        KubernetesWatchManager? manager = GetManager();
        if (manager is null)
        {
            Log.NotServed(_logger, service.ToString(), _notServed!);
            return null;
        }
        Func<ServiceName, IEndpointSource?>? fallback = _options.FallbackOnForbidden is string kind ? name => FallbackFactory(kind)?.TryCreate(name) : null;
        // An API of another kind (tests, adapters) has no server address: then only the option allows loopback endpoints.
        bool loopback = (_api as KubernetesApiClient)?.Server is Uri server ? _options.LoopbackEndpointsAllowed(server) : _options.AllowLoopbackEndpoints ?? false;
        ILogger logger = _loggers.CreateLogger("ClientLb.Kubernetes.Source");
        KubernetesEndpointSource ApiSource() => new(service, manager, fallback, _options.FallbackOnForbidden, _time, logger, loopback);
        if (GetRelay() is not NodeRelayViews relay)
        {
            return ApiSource();
        }
        var relayed = new KubernetesEndpointSource(service, relay, null, null, _time, logger, loopback);
        return new NodeEndpointSource(service, relayed, ApiSource, relay.Description, _time, logger);
    }

    /// <summary>The node relay's views when the relay applies (<see cref="NodeRelayOptions.Applies"/>), made on first use.</summary>
    private NodeRelayViews? GetRelay()
    {
        lock (_gate)
        {
            if (_relay is null && _options.NodeRelay.Applies)
            {
                // The relay serves what this process's own token may read: every call carries it.
                KubernetesApiClient? api = _api as KubernetesApiClient;
                var connection = new NodeRelayConnection(_options.NodeRelay.SocketPath, ct => api?.GetBearerTokenAsync(ct) ?? ValueTask.FromResult<string?>(null));
                _relay = new NodeRelayViews(connection, _options.NodeRelay, _time, _loggers.CreateLogger("ClientLb.Kubernetes.Node"));
            }
            return _relay;
        }
    }

    private IEndpointSourceFactory? FallbackFactory(string kind) =>
        _services?.GetServices<IEndpointSourceFactory>().FirstOrDefault(f => f.Kind == kind && f != this);

    private KubernetesWatchManager? GetManager()
    {
        lock (_gate)
        {
            if (_resolved)
            {
                return _manager;
            }
            if (_api is null)
            {
                // Not cached on failure: a fixed file is picked up by the next name.
                k8s.KubernetesClientConfiguration? config = KubernetesConnection.TryResolve(_options, out string reason, time: _time);
                if (config is null)
                {
                    _notServed = reason;
                    _resolved = true;
                    return null;
                }
                _ownedApi = KubernetesApiClient.FromConfiguration(config, _options.RequestTimeout);
                _ownedApi.MaxEventBytes = _options.MaxEventBytes;
                _api = _ownedApi;
            }
            Log.Configured(_logger, _api.Description);
            _manager = new KubernetesWatchManager(_api, _options, _time, _loggers.CreateLogger("ClientLb.Kubernetes.Watch"), _metrics);
            _resolved = true;
            return _manager;
        }
    }

    /// <summary>Stops every watch.</summary>
    public async ValueTask DisposeAsync()
    {
        KubernetesWatchManager? manager;
        NodeRelayViews? relay;
        lock (_gate)
        {
            manager = _manager;
            _manager = null;
            relay = _relay;
            _relay = null;
        }
        if (relay is not null)
        {
            await relay.DisposeAsync().ConfigureAwait(false);
        }
        if (manager is not null)
        {
            await manager.DisposeAsync().ConfigureAwait(false);
        }
        _ownedApi?.Dispose();
    }
}
