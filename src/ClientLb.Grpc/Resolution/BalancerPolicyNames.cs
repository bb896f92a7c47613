using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// Checks, when a <c>clientlb:///</c> channel is created, that every load balancing policy its service config names is one
/// the channel can build: grpc-dotnet's own <c>pick_first</c> and <c>round_robin</c>, and the <see cref="LoadBalancerFactory"/>s
/// of the channel's service provider (the <c>clientlb_*</c> ones among them). grpc-dotnet would skip an unknown name
/// silently, or fail only at the first call.
/// </summary>
internal static class BalancerPolicyNames
{
    private static readonly string[] BuiltIn = ["pick_first", "round_robin"];

    /// <exception cref="InvalidOperationException">A policy name is unknown; the message names it and every known policy.</exception>
    public static void Validate(ResolverOptions options)
    {
        IList<LoadBalancingConfig>? configs = options.ChannelOptions.ServiceConfig?.LoadBalancingConfigs;
        if (configs is null || configs.Count == 0)
        {
            return;
        }
        IEnumerable<LoadBalancerFactory> factories = options.ChannelOptions.ServiceProvider?.GetServices<LoadBalancerFactory>() ?? [];
        var known = new SortedSet<string>(BuiltIn.Concat(factories.Select(f => f.Name)), StringComparer.Ordinal);
        foreach (LoadBalancingConfig config in configs)
        {
            if (!known.Contains(config.PolicyName))
            {
                throw new InvalidOperationException(
                    $"The service config of the channel to '{options.Address}' names the load balancing policy '{config.PolicyName}', which is not known. Known policies: {string.Join(", ", known)}.");
            }
        }
    }
}
