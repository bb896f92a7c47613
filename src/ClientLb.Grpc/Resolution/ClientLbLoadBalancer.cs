using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// grpc-dotnet's subchannel management (one subchannel per offered endpoint, connectivity state, reconnect backoff) with a
/// ClientLb policy picking among the ready ones.
/// </summary>
internal sealed class ClientLbLoadBalancer(IChannelControlHelper controller, ILoggerFactory loggerFactory, string name, ILoadBalancingPolicy policy, CallTracking tracking)
    : SubchannelsLoadBalancer(controller, loggerFactory)
{
    protected override SubchannelPicker CreatePicker(IReadOnlyList<Subchannel> readySubchannels)
    {
        var endpoints = new BalancedEndpoint[readySubchannels.Count];
        ServiceBalancer? balancer = null;
        for (int i = 0; i < endpoints.Length; i++)
        {
            BalancerAttributes attributes = (readySubchannels[i].CurrentAddress ?? readySubchannels[i].GetAddresses()[0]).Attributes;
            if (!attributes.TryGetValue(ClientLbResolver.EndpointKey, out BalancedEndpoint? endpoint) ||
                !attributes.TryGetValue(ClientLbResolver.BalancerKey, out balancer))
            {
                return new FailingSubchannelPicker(new Status(StatusCode.Unavailable,
                    $"The load balancer '{name}' balances ClientLb endpoints: give the channel a clientlb:/// address (such as clientlb:///greeter.default:grpc), not '{readySubchannels[i].CurrentAddress}'."));
            }
            endpoints[i] = endpoint;
        }
        return new ClientLbSubchannelPicker(balancer!.CreatePicker(policy, endpoints), balancer, readySubchannels, endpoints, tracking);
    }

    private sealed class FailingSubchannelPicker(Status status) : SubchannelPicker
    {
        private readonly PickResult _result = PickResult.ForFailure(status);

        public override PickResult Pick(global::Grpc.Net.Client.Balancer.PickContext context) => _result;
    }
}
