using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace ClientLb.Balancing;

/// <summary>
/// The array a built-in picker keeps. The balancer hands its endpoint arrays over as an <see cref="ImmutableArray{T}"/>
/// (it never writes to an array once built), so a picker shares it instead of copying it: a change in a service of
/// 10,000 endpoints does not copy all of them once more. Any other list is copied, since its owner may change it.
/// </summary>
internal static class PickerArrays
{
    public static BalancedEndpoint[] Of(IReadOnlyList<BalancedEndpoint> endpoints) =>
        endpoints is ImmutableArray<BalancedEndpoint> frozen ? ImmutableCollectionsMarshal.AsArray(frozen)! : [.. endpoints];

    /// <summary><paramref name="built"/>, which its builder never writes to again, as a list a picker may keep as it is.</summary>
    public static IReadOnlyList<BalancedEndpoint> Frozen(BalancedEndpoint[] built) => ImmutableCollectionsMarshal.AsImmutableArray(built);
}
