using ClientLb.Balancing.Policies;
using ClientLb.Sources;

namespace ClientLb.Balancing;

/// <summary>What a balancer needs from configuration for one service: its policy and that policy's parameters.</summary>
/// <param name="Policy">The policy.</param>
/// <param name="Options">The service's options.</param>
/// <param name="Locality">Where this process runs.</param>
/// <param name="PolicyExplicit">Whether the service's configuration names its policy (then a source's session affinity does not override it).</param>
internal readonly record struct BalancerSettings(ILoadBalancingPolicy Policy, ServiceOptions Options, LocalityOptions Locality, bool PolicyExplicit = false)
{
    private static readonly StickyPolicy Sticky = new();

    /// <summary>
    /// kube-proxy's <c>sessionAffinity: ClientIP</c>, when the source reports it and configuration names no policy:
    /// the Sticky policy on the client IP with the Service's timeout; every other option stays the service's.
    /// </summary>
    public BalancerSettings WithSourceAffinity(IEndpointSource source)
    {
        if (PolicyExplicit || source is not ISessionAffinitySource { ClientIpAffinityTimeout: TimeSpan timeout })
        {
            return this;
        }
        ServiceOptions o = Options;
        var sticky = new ServiceOptions
        {
            Endpoints = o.Endpoints,
            Policy = StickyPolicy.PolicyName,
            PeakEwma = o.PeakEwma,
            Affinity = new AffinityOptions { Key = AffinityKeySource.ClientIp, Timeout = timeout },
            Topology = o.Topology,
            Health = o.Health,
            RetryBudget = o.RetryBudget,
            Hedging = o.Hedging,
        };
        return this with { Policy = Sticky, Options = sticky };
    }
}
