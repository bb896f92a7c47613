namespace ClientLb.Balancing.Policies;

/// <summary>A uniformly random endpoint per request: no shared counter, so no contention between cores (kube-proxy's iptables mode).</summary>
public sealed class RandomPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>Random</c>.</summary>
    public const string PolicyName = "Random";

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints) => new Picker(PickerArrays.Of(endpoints));

    private sealed class Picker(BalancedEndpoint[] endpoints) : EndpointPicker
    {
        public override IReadOnlyList<BalancedEndpoint> Endpoints => endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            int length = endpoints.Length;
            int index = Random.Shared.Next(length);
            BalancedEndpoint picked = endpoints[index];
            if (ReferenceEquals(picked, context.Exclude) && length > 1)
            {
                picked = endpoints[index + 1 == length ? 0 : index + 1];
            }
            return picked;
        }
    }
}
