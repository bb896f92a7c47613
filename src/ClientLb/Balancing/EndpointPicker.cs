namespace ClientLb.Balancing;

/// <summary>
/// Picks an endpoint for one request. Immutable over a fixed endpoint list; a change builds a new picker
/// and the balancer swaps the reference. <see cref="Pick"/> is the hot path: no locks, no allocation.
/// </summary>
public abstract class EndpointPicker
{
    /// <summary>Picks an endpoint.</summary>
    /// <exception cref="NoEndpointsException">The service has no eligible endpoint.</exception>
    public abstract BalancedEndpoint Pick(in PickContext context);

    /// <summary>The endpoints this picker chooses from.</summary>
    public abstract IReadOnlyList<BalancedEndpoint> Endpoints { get; }

    /// <summary>
    /// Why every pick fails, when the service has nothing eligible (the service, its source and the reason, as each
    /// <see cref="Pick"/> throws it); null for a picker that picks. Lets a caller that reads <see cref="Endpoints"/>
    /// instead of picking (the Microsoft.Extensions.ServiceDiscovery provider) fail the way a request would.
    /// </summary>
    public virtual NoEndpointsException? Failure => null;
}
