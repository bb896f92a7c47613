using Grpc.Core;
using Grpc.Net.Client.Configuration;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>A resolver-path service config: clientlb_round_robin, and grpc-dotnet's retry policy on SayHello.</summary>
public static class SayHelloRetry
{
    public static ServiceConfig RoundRobin() => new()
    {
        LoadBalancingConfigs = { new LoadBalancingConfig("clientlb_round_robin") },
        MethodConfigs =
        {
            new MethodConfig
            {
                Names = { new MethodName { Service = "greet.Greeter", Method = "SayHello" } },
                RetryPolicy = new RetryPolicy
                {
                    // Until grpc-dotnet sees a killed backend's connection reset, its subchannel still looks ready: the
                    // backoff gives it that time.
                    MaxAttempts = 5,
                    InitialBackoff = TimeSpan.FromMilliseconds(50),
                    MaxBackoff = TimeSpan.FromMilliseconds(500),
                    BackoffMultiplier = 2,
                    // A call racing a graceful shutdown's GOAWAY (NO_ERROR), or whose stream was reset, is INTERNAL in
                    // grpc-dotnet.
                    RetryableStatusCodes = { StatusCode.Unavailable, StatusCode.Internal },
                },
            },
        },
    };
}
