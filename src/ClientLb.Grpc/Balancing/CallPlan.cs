using ClientLb.LoadBalancing;

namespace ClientLb.Grpc.Balancing;

/// <summary>What every attempt of a call needs: read once per call, passed by value (never allocated).</summary>
/// <param name="Request">The call's request (its URI is pointed at each attempt's endpoint, and restored).</param>
/// <param name="Method">The method path, <c>/package.Service/Method</c>.</param>
/// <param name="Original">The request's URI as the caller sent it (the service's name).</param>
/// <param name="Balancer">The service's balancer.</param>
/// <param name="CallStart">When the call started (timestamp).</param>
/// <param name="Timeout">The call's <c>grpc-timeout</c>, if it has a deadline.</param>
/// <param name="PickerChanged">The balancer's picker change signal as it was before the first pick (wait-for-ready waits on it).</param>
/// <param name="CancellationToken">The caller's token.</param>
internal readonly record struct CallPlan(HttpRequestMessage Request, string Method, Uri Original, ServiceBalancer Balancer, long CallStart,
    TimeSpan? Timeout, Task PickerChanged, CancellationToken CancellationToken);
