using System.Runtime.CompilerServices;

namespace ClientLb.Balancing.Policies;

/// <summary>
/// Power of two choices, least outstanding requests: two distinct random endpoints, the one with fewer requests in
/// flight wins. Nearly as even as least-requests over all endpoints, at the cost of two reads (Mitzenmacher).
/// The default for HTTP/2 and gRPC requests under the <c>Auto</c> policy.
/// </summary>
public sealed class PowerOfTwoChoicesPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>PowerOfTwoChoices</c>.</summary>
    public const string PolicyName = "PowerOfTwoChoices";

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints) => new Picker(PickerArrays.Of(endpoints));

    internal sealed class Picker(BalancedEndpoint[] endpoints) : EndpointPicker
    {
        public override IReadOnlyList<BalancedEndpoint> Endpoints => endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            BalancedEndpoint[] all = endpoints;
            int length = all.Length;
            if (length == 1)
            {
                return all[0];
            }
            (BalancedEndpoint a, BalancedEndpoint b) = TwoDistinct(all);
            if (ReferenceEquals(a, context.Exclude))
            {
                return b;
            }
            if (ReferenceEquals(b, context.Exclude))
            {
                return a;
            }
            return b.Outstanding < a.Outstanding ? b : a;
        }
    }

    /// <summary>
    /// Two different endpoints, uniformly: the second index skips over the first. Both come from one draw of
    /// <see cref="PickRandom"/> (32 bits for the first, 31 for the second, each scaled by a multiply-shift): one generator
    /// step per pick instead of two, at a bias of at most the endpoint count in 2^31 per index.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (BalancedEndpoint, BalancedEndpoint) TwoDistinct(BalancedEndpoint[] endpoints)
    {
        return TwoDistinct(endpoints, PickRandom.Next());
    }

    /// <summary><see cref="TwoDistinct(BalancedEndpoint[])"/> from given random bits (the low 63 are used).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (BalancedEndpoint, BalancedEndpoint) TwoDistinct(BalancedEndpoint[] endpoints, ulong bits)
    {
        ulong length = (ulong)endpoints.Length;
        int first = (int)(((bits & uint.MaxValue) * length) >> 32);
        int second = (int)((((bits >> 32) & int.MaxValue) * (length - 1)) >> 31);
        // Skip over the first: +1 when second >= first, without a branch (it would be mispredicted half the time).
        second += (int)((uint)(first - second - 1) >> 31);
        return (endpoints[first], endpoints[second]);
    }
}
