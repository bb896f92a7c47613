using ClientLb.Balancing.Policies;
using Grpc.Net.Client.Balancer;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// Brings a ClientLb policy into grpc-dotnet as a load balancer, under the names <c>clientlb_round_robin</c>,
/// <c>clientlb_p2c</c> (what a <c>clientlb:///</c> channel uses unless its service config names another),
/// <c>clientlb_peak_ewma</c>, <c>clientlb_hash</c> (key from the call's metadata, as the service's <c>Affinity</c> options
/// say) and <c>clientlb_sticky</c>. They balance over the subchannels the clientlb resolver offers; grpc-dotnet keeps
/// connectivity state, reconnect backoff, wait-for-ready, retries and hedging.
/// </summary>
public sealed class ClientLbBalancerFactory : LoadBalancerFactory
{
    /// <summary>Each call in turn over the ready endpoints.</summary>
    public const string RoundRobin = "clientlb_round_robin";

    /// <summary>Least outstanding of two random ready endpoints (the default).</summary>
    public const string P2c = "clientlb_p2c";

    /// <summary>Lowest peak-EWMA latency times outstanding calls.</summary>
    public const string PeakEwma = "clientlb_peak_ewma";

    /// <summary>Maglev hash of the affinity key (a metadata entry, per the service's Affinity options).</summary>
    public const string Hash = "clientlb_hash";

    /// <summary>Sticky sessions with timeout (the service's Affinity options).</summary>
    public const string Sticky = "clientlb_sticky";

    private readonly ILoadBalancingPolicy _policy;
    private readonly CallTracking _tracking;

    private ClientLbBalancerFactory(string name, ILoadBalancingPolicy policy, CallTracking tracking)
    {
        Name = name;
        _policy = policy;
        _tracking = tracking;
    }

    /// <summary>The five factories, as <c>AddClientLbGrpc()</c> registers them.</summary>
    public static IReadOnlyList<ClientLbBalancerFactory> All { get; } =
    [
        new(RoundRobin, new RoundRobinPolicy(), CallTracking.Outstanding),
        new(P2c, new PowerOfTwoChoicesPolicy(), CallTracking.Outstanding),
        new(PeakEwma, new PeakEwmaPolicy(), CallTracking.Timed),
        new(Hash, new HashPolicy(), CallTracking.Outstanding),
        new(Sticky, new StickyPolicy(), CallTracking.Outstanding),
    ];

    /// <inheritdoc />
    public override string Name { get; }

    /// <inheritdoc />
    public override LoadBalancer Create(LoadBalancerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ClientLbLoadBalancer(options.Controller, options.LoggerFactory, Name, _policy, _tracking);
    }
}

/// <summary>
/// What is recorded of each call: its outcome for passive health and the calls in flight per endpoint (every policy: a
/// failing endpoint is ejected and leaves the resolver's addresses), or also its latency (PeakEwma).
/// </summary>
internal enum CallTracking
{
    Outstanding,
    Timed,
}
