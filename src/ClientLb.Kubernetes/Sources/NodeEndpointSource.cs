using ClientLb.Endpoints;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Node;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Sources;

/// <summary>
/// A service through the node relay first, its own API watch when the relay is down. Both sides map the same Service
/// and EndpointSlices with the same code (<see cref="KubernetesEndpointSource"/>); this source publishes the side in
/// use. When the relay stops, the API side is started and the relay's last endpoints stay published until the API side
/// has its own (last known good across the switch); when the relay is back with its snapshot, the API side stops.
/// </summary>
internal sealed class NodeEndpointSource : EndpointSource, IKubernetesEndpointSource, ISessionAffinitySource
{
    private readonly Lock _gate = new();
    private readonly IEndpointSource _relay;
    private readonly Func<IEndpointSource> _apiFactory;
    private readonly ILogger _logger;
    private IDisposable? _relaySubscription;
    private IEndpointSource? _api;
    // Completed once _api was started (outside the lock): stopping it waits for that, so a started watch is never leaked.
    private TaskCompletionSource? _apiStarted;
    private IDisposable? _apiSubscription;
    private EndpointSnapshot? _mirrored;
    private bool _disposed;

    public NodeEndpointSource(ServiceName service, IEndpointSource relay, Func<IEndpointSource> apiFactory, string relayDescription, TimeProvider time, ILogger logger)
        : base(service, "node", $"kubernetes endpointslices {service.Namespace}/{service.Name} via {relayDescription}, else the API", time)
    {
        _relay = relay;
        _apiFactory = apiFactory;
        _logger = logger;
    }

    /// <summary>True while the source's own API watch serves (the relay is down).</summary>
    public bool UsingApi
    {
        get
        {
            lock (_gate)
            {
                return _api is not null;
            }
        }
    }

    /// <inheritdoc />
    public KubernetesServiceInfo? ServiceInfo => (Active as IKubernetesEndpointSource)?.ServiceInfo;

    /// <inheritdoc />
    public TimeSpan? ClientIpAffinityTimeout => (Active as ISessionAffinitySource)?.ClientIpAffinityTimeout;

    private IEndpointSource Active
    {
        get
        {
            lock (_gate)
            {
                return _api is { Current: not null } api ? api : _relay;
            }
        }
    }

    protected override void OnStart()
    {
        _relaySubscription = _relay.Subscribe(OnRelayChanged);
        _relay.Start();
        OnRelayChanged(_relay);
    }

    private void OnRelayChanged(IEndpointSource relay)
    {
        IEndpointSource? started = null;
        TaskCompletionSource? startedSignal = null;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            bool relayDown = relay.Status.LastError is NodeRelayUnavailableException;
            if (relayDown && _api is null)
            {
                Log.RelayDown(_logger, Service.ToString(), relay.Status.LastError!.Message);
                _api = started = _apiFactory();
                _apiStarted = startedSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _apiSubscription = _api.Subscribe(OnApiChanged);
            }
            else
            {
                OnRelayChangedLocked(relay, relayDown);
            }
        }
        if (started is not null)
        {
            // Started outside this source's lock: starting takes the watch manager's and a scope's locks, and a scope
            // delivers under those before taking this one; holding it here could deadlock with another service's switch.
            try
            {
                started.Start();
            }
            finally
            {
                startedSignal!.SetResult();
            }
            OnApiChanged(started);
        }
    }

    private void OnRelayChangedLocked(IEndpointSource relay, bool relayDown)
    {
        if (!relayDown && _api is not null && relay.Current is not null)
        {
            Log.RelayBack(_logger, Service.ToString());
            StopApiLocked();
        }
        if (_api is null)
        {
            Mirror(relay);
        }
    }

    private void OnApiChanged(IEndpointSource api)
    {
        lock (_gate)
        {
            OnApiChangedLocked(api);
        }
    }

    private void OnApiChangedLocked(IEndpointSource api)
    {
        if (_disposed || _api != api)
        {
            return;
        }
        if (api.Current is null)
        {
            // Not listed yet: the relay's last endpoints stay in service; say why they may be stale.
            if (_relay.Status.LastError is Exception relayError)
            {
                ReportFailure(relayError);
            }
            return;
        }
        Mirror(api);
    }

    /// <summary>Publishes what <paramref name="side"/> has: its endpoints, else its failure (the current endpoints stay).</summary>
    private void Mirror(IEndpointSource side)
    {
        bool recovered = side.Status.LastError is null && Status.LastError is not null;
        if (side.Current is EndpointSnapshot snapshot && (snapshot != _mirrored || recovered))
        {
            // The same endpoints again only refresh the status: a side that recovered without a change clears the error.
            _mirrored = snapshot;
            Publish(snapshot.Endpoints);
        }
        if (side.Status.LastError is Exception error)
        {
            ReportFailure(error);
        }
        else
        {
            NotifyChanged(); // Service settings (affinity) may have changed without an endpoint change
        }
    }

    private void StopApiLocked()
    {
        IEndpointSource api = _api!;
        Task started = _apiStarted!.Task;
        _apiSubscription?.Dispose();
        _apiSubscription = null;
        _api = null;
        _apiStarted = null;
        _ = StopAsync(api, started);
    }

    private static async Task StopAsync(IEndpointSource api, Task started)
    {
        await started.ConfigureAwait(false);
        await api.DisposeAsync().ConfigureAwait(false);
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        IEndpointSource? api;
        Task? started;
        lock (_gate)
        {
            _disposed = true;
            _relaySubscription?.Dispose();
            _apiSubscription?.Dispose();
            api = _api;
            started = _apiStarted?.Task;
            _api = null;
            _apiStarted = null;
        }
        await _relay.DisposeAsync().ConfigureAwait(false);
        if (api is not null)
        {
            await StopAsync(api, started!).ConfigureAwait(false);
        }
    }
}
