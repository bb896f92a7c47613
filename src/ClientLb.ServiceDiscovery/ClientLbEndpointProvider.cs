using System.Net;
using ClientLb.Balancing;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;

namespace ClientLb.ServiceDiscovery;

/// <summary>
/// One MESD query's view of a ClientLb balancer: <see cref="PopulateAsync"/> hands MESD the endpoints ClientLb's own
/// handler would pick from, and a change token that fires when the source publishes, so MESD's watcher (and YARP's
/// destination resolver above it) re-reads at once instead of polling.
/// </summary>
internal sealed class ClientLbEndpointProvider : IServiceEndpointProvider, IHostNameFeature
{
    private readonly ServiceBalancerLease _lease;
    private readonly ServiceName _service;
    private readonly TimeSpan _initialResolutionTimeout;
    private readonly IDisposable _subscription;
    private readonly FeatureCollection _endpointFeatures = new();
    private CancellationTokenSource _changed = new();
    private int _disposed;

    public ClientLbEndpointProvider(ServiceBalancerLease lease, ServiceName service, string hostName, TimeSpan initialResolutionTimeout)
    {
        _lease = lease;
        _service = service;
        HostName = hostName;
        _initialResolutionTimeout = initialResolutionTimeout;
        _endpointFeatures.Set<IHostNameFeature>(this);
        // The balancer subscribed to the source first, so its picker is already rebuilt when this runs.
        _subscription = lease.Balancer.Source.Subscribe(_ => SignalChange());
    }

    /// <summary>The logical name MESD and YARP keep as the Host header, as a ClusterIP would.</summary>
    public string HostName { get; }

    public async ValueTask PopulateAsync(IServiceEndpointBuilder endpoints, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (endpoints.Endpoints.Count > 0)
        {
            // MESD's configuration provider answered first: an explicitly configured service wins, as in ClientLb itself.
            return;
        }
        ServiceBalancer balancer = _lease.Balancer;
        await balancer.EnsureReadyAsync(_initialResolutionTimeout, cancellationToken).ConfigureAwait(false);
        // The token is taken before the picker is read: a change in between fires it and MESD reads again.
        endpoints.AddChangeToken(new CancellationChangeToken(Volatile.Read(ref _changed).Token));
        EndpointPicker picker = balancer.Picker;
        if (picker.Failure is { } failure)
        {
            throw new NoEndpointsException(failure.Service, failure.SourceDescription, failure.Reason, failure.InnerException);
        }
        foreach (BalancedEndpoint endpoint in picker.Endpoints)
        {
            endpoints.Endpoints.Add(ServiceEndpoint.Create(ToEndPoint(endpoint.Endpoint), _endpointFeatures));
        }
    }

    /// <summary>An endpoint with its own scheme (a configured <c>https://10.0.0.1:8443</c>) keeps it; others take the request's.</summary>
    internal static EndPoint ToEndPoint(Endpoint endpoint) =>
        endpoint.Scheme is null ? endpoint.EndPoint : new UriEndPoint(new Uri(endpoint.Scheme + "://" + endpoint.Authority));

    private void SignalChange()
    {
        CancellationTokenSource previous = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
        // Not disposed: a MESD watcher may still be registering on its token; cancelling it is the whole signal.
        previous.Cancel();
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _subscription.Dispose();
            _lease.Dispose();
        }
        return ValueTask.CompletedTask;
    }

    public override string ToString() => "ClientLb " + _service + " via " + _lease.Balancer.Source.Description;
}
