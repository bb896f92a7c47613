namespace ClientLb.Balancing.Policies;

/// <summary>
/// A balancing policy: turns the eligible endpoints of a service into an immutable <see cref="EndpointPicker"/>.
/// Policies are stateless singletons selected by <see cref="Name"/> (<c>"Policy": "RoundRobin"</c> in configuration).
/// </summary>
public interface ILoadBalancingPolicy
{
    /// <summary>The name used in options and configuration, e.g. <c>RoundRobin</c>.</summary>
    string Name { get; }

    /// <summary>Builds a picker over <paramref name="endpoints"/> (never empty) with default parameters.</summary>
    EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints);

    /// <summary>
    /// Builds a picker over <paramref name="endpoints"/> (never empty) with the service's parameters, clock and state
    /// that survives rebuilds. Policies without parameters need not implement it.
    /// </summary>
    EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints, PolicyContext context) => CreatePicker(endpoints);
}
