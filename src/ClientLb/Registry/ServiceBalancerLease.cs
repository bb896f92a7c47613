using ClientLb.Balancing;
using ClientLb.Names;

namespace ClientLb.Registry;

/// <summary>
/// A client's hold on a service's balancer, from <see cref="ServiceRegistry.AcquireBalancer(ServiceName)"/>. The
/// balancer (and through it the service's source and watch) lives while any lease on it does, and for
/// <see cref="ClientLbOptions.IdleServiceTimeout"/> after the last one is disposed. Disposing twice releases once.
/// </summary>
public sealed class ServiceBalancerLease : IDisposable
{
    private readonly ServiceRegistry.BalancerEntry _entry;
    private ServiceRegistry? _registry;

    internal ServiceBalancerLease(ServiceRegistry registry, ServiceRegistry.BalancerEntry entry)
    {
        _registry = registry;
        _entry = entry;
        Balancer = entry.Balancer;
    }

    /// <summary>The leased balancer. Still usable for a request already under way after the lease is disposed: it is kept for the idle timeout.</summary>
    public ServiceBalancer Balancer { get; }

    /// <summary>Releases the lease; the balancer is disposed once no lease has been held for the idle timeout.</summary>
    public void Dispose() => Interlocked.Exchange(ref _registry, null)?.Release(_entry);
}
