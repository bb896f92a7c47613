namespace ClientLb.Balancing.Policies;

/// <summary>
/// The default: round-robin for HTTP/1.x requests (each has its own connection, so turns spread load evenly and
/// predictably) and least-outstanding power of two choices for HTTP/2 and HTTP/3 requests, which share connections
/// and whose durations vary (gRPC streams), where counting in-flight requests matters.
/// </summary>
public sealed class AutoPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>Auto</c>.</summary>
    public const string PolicyName = "Auto";

    private readonly RoundRobinPolicy _roundRobin = new();

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints)
    {
        BalancedEndpoint[] array = PickerArrays.Of(endpoints);
        return new Picker(array, _roundRobin.CreatePicker(PickerArrays.Frozen(array)), new PowerOfTwoChoicesPolicy.Picker(array));
    }

    private sealed class Picker(BalancedEndpoint[] endpoints, EndpointPicker http1, EndpointPicker multiplexed) : EndpointPicker
    {
        public override IReadOnlyList<BalancedEndpoint> Endpoints => endpoints;

        public override BalancedEndpoint Pick(in PickContext context) =>
            context.Request is { Version.Major: >= 2 } ? multiplexed.Pick(context) : http1.Pick(context);
    }
}
