using ClientLb.Diagnostics;
using ClientLb.Endpoints;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Watching;
using ClientLb.Names;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;
using Endpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Sources;

/// <summary>
/// The endpoints of one service name (service, namespace, port) from the shared watch of its service: every change of
/// any of its slices or of the Service publishes the merged endpoints for this port. While the API is unreachable the
/// last good endpoints stay and the failure (with its staleness) is reported. On 403 it can hand over to a fallback source.
/// </summary>
internal sealed class KubernetesEndpointSource : EndpointSource, IKubernetesEndpointSource, ISessionAffinitySource
{
    private readonly Lock _gate = new();
    private readonly IServiceViewProvider _manager;
    private readonly Func<ServiceName, IEndpointSource?>? _fallbackFactory;
    private readonly string? _fallbackKind;
    private readonly ILogger _logger;
    private ViewLease? _lease;
    private IDisposable? _subscription;
    private IEndpointSource? _fallback;
    private IDisposable? _fallbackSubscription;
    private bool _everSynced;
    private bool _forbiddenLogged;
    private string? _lastProblem;
    private bool _disposed;
    private KubernetesServiceInfo? _info;
    private Model.Service? _infoOf;
    private readonly SliceMerger _merger;
    // Whether the current snapshot is the merger's state, so the merger's changes can be published as a delta.
    private bool _publishedMerge;

    public KubernetesEndpointSource(ServiceName service, IServiceViewProvider manager, Func<ServiceName, IEndpointSource?>? fallbackFactory, string? fallbackKind,
        TimeProvider time, ILogger logger, bool allowLoopbackEndpoints = false)
        : base(service, "kubernetes", "kubernetes endpointslices", time)
    {
        _merger = new SliceMerger(allowLoopbackEndpoints, (record, reason) => DroppedRecords.Report(logger, service.ToString(), "kubernetes", record, reason));
        _manager = manager;
        _fallbackFactory = fallbackFactory;
        _fallbackKind = fallbackKind;
        _logger = logger;
    }

    // Made when asked for (messages, diagnostics) rather than kept: thousands of watched services would each hold one.
    /// <inheritdoc />
    public override string Description => $"kubernetes endpointslices {Service.Namespace}/{Service.Name} via {_manager.Description}";

    /// <inheritdoc />
    public KubernetesServiceInfo? ServiceInfo => Volatile.Read(ref _info);

    /// <inheritdoc />
    public TimeSpan? ClientIpAffinityTimeout => ServiceInfo?.SessionAffinityTimeout;

    /// <summary>True while a fallback source serves this service (403 from the API).</summary>
    internal bool UsingFallback => Volatile.Read(ref _fallback) is not null;

    protected override void OnStart()
    {
        ViewLease lease = _manager.Acquire(Service.Namespace, Service.Name);
        lock (_gate)
        {
            _lease = lease;
            _subscription = lease.View.Subscribe(OnViewChanged);
        }
        // The view may be synced already (another port or client of the same service).
        OnViewChanged(lease.View);
    }

    private void OnViewChanged(ServiceView view)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            Exception? error = view.Error;
            ServiceSlices data = view.Data;
            if (error is not null)
            {
                OnError(error);
                return;
            }
            if (!data.Synced)
            {
                return;
            }
            _everSynced = true;
            StopFallback();
            if (!ReferenceEquals(data.Service, _infoOf))
            {
                // Read once per Service object, not per slice event.
                _infoOf = data.Service;
                KubernetesServiceInfo? info = data.ServiceInfo;
                KubernetesServiceInfo? previous = Interlocked.Exchange(ref _info, info);
                if (previous is not null && info is not null && previous.SessionAffinityTimeout != info.SessionAffinityTimeout)
                {
                    // Affinity changed without an endpoint change: the balancer must re-read it.
                    NotifyChanged();
                }
            }
            if (Compute(data, out string? problem) is not Computed computed)
            {
                if (problem is null)
                {
                    return; // the Service is on its way (its watch lags the slices' watch)
                }
                if (Current is { Endpoints.Length: > 0 })
                {
                    // The Service or its port is gone: the old endpoints are not "last known good" for this name any more.
                    PublishWhole([]);
                }
                if (problem != _lastProblem)
                {
                    _lastProblem = problem;
                    Log.EndpointsUnavailable(_logger, Service.ToString(), problem!);
                }
                ReportFailure(new KubernetesSourceException(Service, problem!));
                return;
            }
            _lastProblem = null;
            if (computed.Whole is not null)
            {
                PublishWhole(computed.Whole);
                return;
            }
            // Lists per update rather than kept: thousands of watched services change rarely.
            List<Endpoint> upserted = [], removed = [];
            bool incremental = _merger.Update(data.Slices, computed.Port, upserted, removed);
            if (_merger.Count == 0 && _merger.DroppedCount is int dropped and > 0)
            {
                // Nothing valid is left: serve the last known good rather than nothing, and say why.
                _publishedMerge = false;
                ReportFailure(new KubernetesSourceException(Service, $"every one of its {dropped} endpoint(s) was refused (see the dropped-record warnings); keeping the last known good endpoints"));
                return;
            }
            if (incremental && _publishedMerge)
            {
                PublishChanges(upserted, removed);
            }
            else
            {
                Publish(_merger.Endpoints);
                _publishedMerge = true;
            }
        }
    }

    /// <summary>Publishes a list that is not the slices' merge (ExternalName, nothing, the fallback's).</summary>
    private void PublishWhole(IEnumerable<Endpoint> endpoints)
    {
        _publishedMerge = false;
        Publish(endpoints);
    }

    /// <summary>What a service state gives this source: slices to merge on a port, or a whole list (ExternalName).</summary>
    private readonly record struct Computed(PortChoice Port, List<Endpoint>? Whole);

    private Computed? Compute(ServiceSlices data, out string? problem)
    {
        problem = null;
        Service? service = data.Service;
        if (service is null && data.Slices.IsEmpty)
        {
            problem = $"there is no Service '{Service.Name}' in namespace '{Service.Namespace}'";
            return null;
        }
        if (service is null && data.Slices.Any(IsControllerManaged))
        {
            // The controller writes slices only for an existing Service: it has not reached us yet (or is being
            // deleted and its slices will follow). Mapping ports without it could publish a wrong port: wait.
            return null;
        }
        if (service?.Spec.Type == "ExternalName")
        {
            return ExternalName(service, out problem) is List<Endpoint> alias ? new Computed(default, alias) : null;
        }
        PortChoice choice = PortResolver.Resolve(Service, service, data.Slices, out problem);
        return problem is null ? new Computed(choice, null) : null;
    }

    private static bool IsControllerManaged(EndpointSlice slice) =>
        slice.Metadata.ManagedByLabel == "endpointslice-controller.k8s.io";

    /// <summary>An ExternalName service is a DNS alias: one endpoint, the name, resolved when connecting.</summary>
    private List<Endpoint>? ExternalName(Service service, out string? problem)
    {
        problem = null;
        string? host = service.Spec.ExternalName;
        List<ServicePort> ports = service.Spec.Ports ?? [];
        int? port = Service.Port
            ?? (Service.PortName is string n ? ports.Find(p => p.Name == n)?.Port : null)
            ?? (ports.Count == 1 ? ports[0].Port : (int?)null)
            ?? (Service.Schemes.Count > 0 ? Service.Schemes[0] switch { "https" => 443, "http" => 80, _ => (int?)null } : null);
        if (string.IsNullOrEmpty(host) || port is null)
        {
            problem = $"the ExternalName Service {Service.Key} gives no {(port is null ? "port" : "name")} for '{Service}'";
            return null;
        }
        try
        {
            return [Endpoint.ForDnsName(host, port.Value)];
        }
        catch (ArgumentException ex)
        {
            problem = $"the ExternalName Service {Service.Key} names '{host}': {ex.Message}";
            return null;
        }
    }

    private void OnError(Exception error)
    {
        bool forbidden = error is KubernetesApiException { StatusCode: System.Net.HttpStatusCode.Forbidden };
        if (forbidden && !_forbiddenLogged)
        {
            _forbiddenLogged = true;
            Log.Forbidden(_logger, Service.ToString(), KubernetesApiClient.RbacHint);
        }
        if (forbidden && !_everSynced && _fallback is null && _fallbackFactory is not null)
        {
            StartFallback();
        }
        if (_fallback is null)
        {
            ReportFailure(error);
        }
    }

    private void StartFallback()
    {
        IEndpointSource? fallback = _fallbackFactory!(Service);
        if (fallback is null)
        {
            Log.NotServed(_logger, Service.ToString(), $"the fallback source '{_fallbackKind}' does not serve it either");
            return;
        }
        Log.FallingBack(_logger, Service.ToString(), _fallbackKind ?? fallback.Kind);
        _fallback = fallback;
        _fallbackSubscription = fallback.Subscribe(OnFallbackChanged);
        fallback.Start();
        OnFallbackChanged(fallback);
    }

    private void OnFallbackChanged(IEndpointSource fallback)
    {
        lock (_gate)
        {
            if (_fallback != fallback || _disposed)
            {
                return;
            }
            if (fallback.Current is EndpointSnapshot snapshot)
            {
                PublishWhole(snapshot.Endpoints);
            }
            if (fallback.Status.LastError is Exception error)
            {
                ReportFailure(error);
            }
        }
    }

    private void StopFallback()
    {
        if (_fallback is not IEndpointSource fallback)
        {
            return;
        }
        Log.FallbackEnded(_logger, Service.ToString(), fallback.Kind);
        _fallbackSubscription?.Dispose();
        _fallbackSubscription = null;
        _fallback = null;
        _ = fallback.DisposeAsync().AsTask();
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        IEndpointSource? fallback;
        lock (_gate)
        {
            _disposed = true;
            _subscription?.Dispose();
            _fallbackSubscription?.Dispose();
            fallback = _fallback;
            _fallback = null;
        }
        _lease?.Dispose();
        if (fallback is not null)
        {
            await fallback.DisposeAsync().ConfigureAwait(false);
        }
    }
}
