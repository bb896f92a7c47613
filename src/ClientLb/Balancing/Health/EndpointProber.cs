namespace ClientLb.Balancing.Health;

/// <summary>
/// Asks an ejected endpoint whether it serves again (see <see cref="ServiceBalancer.Prober"/>): true returns it to the
/// picker at once. Throwing or timing out counts as "not yet".
/// </summary>
public delegate ValueTask<bool> EndpointProber(BalancedEndpoint endpoint, CancellationToken cancellationToken);
