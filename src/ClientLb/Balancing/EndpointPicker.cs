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
}
