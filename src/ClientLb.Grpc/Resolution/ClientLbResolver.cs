using ClientLb.Balancing;
using ClientLb.Grpc.Health;
using ClientLb.Names;
using ClientLb.Registry;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// Follows one service's ClientLb balancer and hands grpc-dotnet the endpoints it currently offers (conditions, topology
/// and passive health applied), each address carrying its <see cref="BalancedEndpoint"/> for the clientlb_* balancers.
/// Pushed on every picker change; nothing is polled. With no endpoint, the channel gets UNAVAILABLE with ClientLb's reason.
/// </summary>
internal sealed class ClientLbResolver : Resolver
{
    /// <summary>The address attribute with the ClientLb endpoint behind a subchannel.</summary>
    internal static readonly BalancerAttributesKey<BalancedEndpoint> EndpointKey = new("clientlb.endpoint");

    /// <summary>The address attribute with the service's balancer (policy parameters and passive health for the balancers).</summary>
    internal static readonly BalancerAttributesKey<ServiceBalancer> BalancerKey = new("clientlb.balancer");

    // grpc-dotnet sends this as the Host header instead of the pod address: TLS SNI and the certificate check use the
    // service's name. Only on secure channels: a Host header costs about 290 B per call (encoded per request, where the
    // pod address is the connection's own), and over h2c the pod address is what grpc-dotnet's own resolvers send.
    private static readonly BalancerAttributesKey<string> HostOverrideKey = new("HostOverride");

    private readonly ServiceRegistry _registry;
    private readonly GrpcHealthMonitor? _health;
    private readonly bool _secure;
    private readonly ResolverOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopped = new();
    private ServiceBalancerLease? _lease;

    public ClientLbResolver(ServiceRegistry registry, GrpcHealthMonitor? health, ResolverOptions options, ILogger logger)
    {
        _registry = registry;
        _health = health;
        // A clientlb:/// channel names its credentials (grpc-dotnet requires them for a scheme other than http/https).
        _secure = ChannelSecurity.IsSecure(options.ChannelOptions.Credentials);
        _options = options;
        _logger = logger;
    }

    public override void Start(Action<ResolverResult> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        string name = NameOf(_options.Address);
        try
        {
            if (name.Length == 0)
            {
                throw new ServiceNameFormatException(_options.Address.ToString(), "the address names no service (expected clientlb:///svc.ns:port)");
            }
            _lease = _registry.AcquireBalancer(name);
        }
        catch (Exception ex) when (ex is ServiceNameFormatException or ServiceNotFoundException or ArgumentException)
        {
            listener(ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"ClientLb cannot resolve '{_options.Address}': {ex.Message}", ex)));
            return;
        }
        // Active checks, where configured for the service: their verdicts change the offered endpoints like passive health.
        _health?.Watch(_lease.Balancer, new Uri((_secure ? "https://" : "http://") + HostOf(_lease.Balancer)));
        _ = FollowAsync(_lease.Balancer, listener);
    }


    // What the server sees as Host (and TLS SNI): the channel's authority, else the service's name, as through a ClusterIP.
    private string HostOf(ServiceBalancer balancer) => _options.Address.Authority.Length > 0 ? _options.Address.Authority : balancer.Service.Name;

    // clientlb:///svc.ns:port (the name in the path, as grpc's dns:/// form), or clientlb://svc.ns:port.
    private static string NameOf(Uri address)
    {
        string path = Uri.UnescapeDataString(address.AbsolutePath.TrimStart('/'));
        return path.Length > 0 ? path : address.IsDefaultPort || address.Port < 0 ? address.Host : address.Authority;
    }

    private async Task FollowAsync(ServiceBalancer balancer, Action<ResolverResult> listener)
    {
        CancellationToken stopped = _stopped.Token;
        try
        {
            try
            {
                await balancer.EnsureReadyAsync(_registry.Options.InitialResolutionTimeout, stopped).ConfigureAwait(false);
            }
            catch (NoEndpointsException)
            {
                // Published below as the balancer's failing picker; later changes follow.
            }
            string? published = null;
            while (!stopped.IsCancellationRequested)
            {
                Task changed = balancer.PickerChanged;
                published = Publish(balancer, listener, published);
                await changed.WaitAsync(stopped).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopped.IsCancellationRequested)
        {
            // Disposed with the channel.
        }
        catch (Exception ex)
        {
            Diagnostics.Log.ResolverFailed(_logger, balancer.Service.Id, ex);
            listener(ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"ClientLb stopped following '{balancer.Service}': {ex.Message}", ex)));
        }
    }

    // Publishes the picker's endpoints when they differ from the last published set (a picker also changes for slow start
    // or a policy rebuild; grpc-dotnet would keep its subchannels anyway). Returns the published set's key.
    private string? Publish(ServiceBalancer balancer, Action<ResolverResult> listener, string? last)
    {
        EndpointPicker picker = balancer.Picker;
        IReadOnlyList<BalancedEndpoint> endpoints = picker.Endpoints;
        if (endpoints.Count == 0)
        {
            string reason;
            try
            {
                picker.Pick(new ClientLb.Balancing.PickContext(null));
                reason = "no eligible endpoints";
            }
            catch (NoEndpointsException ex)
            {
                reason = ex.Message;
            }
            if (last != reason)
            {
                listener(ResolverResult.ForFailure(new Status(StatusCode.Unavailable, reason)));
            }
            return reason;
        }
        string key = string.Join(',', endpoints.Select(e => e.Endpoint.Authority));
        if (key == last)
        {
            return key;
        }
        string? host = _secure ? HostOf(balancer) : null;
        var addresses = new BalancerAddress[endpoints.Count];
        for (int i = 0; i < addresses.Length; i++)
        {
            BalancedEndpoint endpoint = endpoints[i];
            var address = new BalancerAddress(endpoint.Endpoint.Host, endpoint.Endpoint.Port);
            address.Attributes.Set(EndpointKey, endpoint);
            address.Attributes.Set(BalancerKey, balancer);
            if (host is not null)
            {
                address.Attributes.Set(HostOverrideKey, host);
            }
            addresses[i] = address;
        }
        listener(_options.DisableServiceConfig || _options.ChannelOptions.ServiceConfig?.LoadBalancingConfigs.Count > 0
            ? ResolverResult.ForResult(addresses)
            : ResolverResult.ForResult(addresses, DefaultServiceConfig, null));
        return key;
    }

    // clientlb_p2c unless the channel's own service config names a policy.
    private static readonly ServiceConfig DefaultServiceConfig = new() { LoadBalancingConfigs = { new LoadBalancingConfig(ClientLbBalancerFactory.P2c) } };

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopped.Cancel();
            Interlocked.Exchange(ref _lease, null)?.Dispose();
        }
        base.Dispose(disposing);
    }
}
