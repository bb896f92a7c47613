using ClientLb.Grpc.Tests.Infrastructure;
using ClientLb.LoadBalancing;
using Grpc.Core;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>UNAVAILABLE and connection failures: counted against the endpoint, retried elsewhere when safe.</summary>
public sealed class FailoverTests
{
    [Fact]
    public async Task KillingABackendMidRun_LosesNoUnaryCall_OfAnIdempotentMethod()
    {
        // Unary: its answer is read ahead, so a reset between the response headers and the trailers is retried too.
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3, configure: o =>
        {
            o.IdempotentMethods.Add("greet.Greeter/SayHello");
            o.UnaryMethods.Add("greet.Greeter/SayHello");
        });
        Task? kill = null;

        // Calls run 8 at a time; when the 100th completes, b2 is killed with calls in flight on its connection.
        Dictionary<string, int> counts = await cluster.SpreadAsync(300, parallelism: 8, afterCall: n =>
        {
            if (n == 100)
            {
                kill = cluster["b2"].KillAsync();
            }
            return Task.CompletedTask;
        });
        await kill!;

        Assert.Equal(300, counts.Values.Sum());
        // b2 answered until it died (its share then went to the others): every call was answered by someone.
        Assert.InRange(counts.GetValueOrDefault("b2"), 1, 99);
        Assert.True(counts["b1"] > 100 && counts["b3"] > 100, string.Join(", ", counts));
    }

    [Fact]
    public async Task StoppingABackendMidRun_LosesNoUnaryCall_EvenOfANonIdempotentMethod()
    {
        // Graceful stop: in-flight calls finish; calls that find the listener gone were never sent and go elsewhere.
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3);
        Task? stop = null;

        Dictionary<string, int> counts = await cluster.SpreadAsync(300, parallelism: 8, afterCall: n =>
        {
            if (n == 100)
            {
                stop = cluster["b3"].StopAsync();
            }
            return Task.CompletedTask;
        });
        await stop!;

        Assert.Equal(300, counts.Values.Sum());
        Assert.True(counts["b1"] > 100 && counts["b2"] > 100, string.Join(", ", counts));
    }

    [Fact]
    public async Task Unavailable_IsRetriedOnAnotherEndpoint_ForIdempotentMethods_AndEjectsTheEndpoint()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3, configure: o => o.IdempotentMethods.Add("greet.Greeter/SayHello"));
        await cluster.FailAsync("b1", 14);

        Dictionary<string, int> counts = await cluster.SpreadAsync(60);

        Assert.Equal(60, counts.Values.Sum());
        Assert.False(counts.ContainsKey("b1"));
        // Five UNAVAILABLE answers in a row are five server errors in a row: passive health ejected b1.
        BalancedEndpoint b1 = cluster.Balancer.KnownEndpoints.Single(e => e.Endpoint.Authority == cluster["b1"].Authority);
        Assert.True(b1.IsEjected);
        Assert.Equal(5, (await cluster["b1"].CountAsync()).Received);
    }

    [Fact]
    public async Task Unavailable_OfANonIdempotentCallThatWasSent_PassesThrough()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(2);
        await cluster.FailAsync("b1", 14);
        await cluster.FailAsync("b2", 14);

        var error = await Assert.ThrowsAsync<RpcException>(() => cluster.HelloAsync());

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, (await cluster["b1"].CountAsync()).Received + (await cluster["b2"].CountAsync()).Received);
    }

    [Fact]
    public async Task ConnectionRefused_IsRetriedElsewhere_AndCountsAgainstTheEndpoint()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3);
        await cluster["b2"].KillAsync();

        Dictionary<string, int> counts = await cluster.SpreadAsync(30);

        Assert.Equal(30, counts.Values.Sum());
        Assert.False(counts.ContainsKey("b2"));
        BalancedEndpoint b2 = cluster.Balancer.KnownEndpoints.Single(e => e.Endpoint.Authority == cluster["b2"].Authority);
        Assert.True(b2.IsEjected);
    }
}
