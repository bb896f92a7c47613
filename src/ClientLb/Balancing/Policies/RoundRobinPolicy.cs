namespace ClientLb.Balancing.Policies;

/// <summary>Each endpoint in turn. The counter starts at a random offset so processes do not march in step.</summary>
public sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>RoundRobin</c>.</summary>
    public const string PolicyName = "RoundRobin";

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints) => new Picker(PickerArrays.Of(endpoints));

    private sealed class Picker(BalancedEndpoint[] endpoints) : EndpointPicker
    {
        private readonly BalancedEndpoint[] _endpoints = endpoints;
        // Every pick writes the counter: padded, so that write does not evict _endpoints from the other cores' caches.
        private PaddedCounter _next = new(Random.Shared.Next());

        public override IReadOnlyList<BalancedEndpoint> Endpoints => _endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            BalancedEndpoint[] endpoints = _endpoints;
            uint length = (uint)endpoints.Length;
            uint index = (uint)Interlocked.Increment(ref _next.Value) % length;
            BalancedEndpoint picked = endpoints[index];
            if (ReferenceEquals(picked, context.Exclude) && length > 1)
            {
                picked = endpoints[(index + 1) % length];
            }
            return picked;
        }
    }
}
