using ClientLb.Balancing;
using ClientLb.Grpc.Tests.Infrastructure;
using Greet;
using Grpc.Core;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>UNAVAILABLE and connection failures: counted against the endpoint, retried elsewhere when safe.</summary>
public sealed class FailoverTests
{
    [Fact]
    public async Task KillingABackendMidRun_LosesNoUnaryCall_OfAnIdempotentMethod()
    {
        // Unary: its answer is read ahead, so a reset between the response headers and the trailers is retried too; so is a
        // reset while the headers are written (the kept body had not started).
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3, configure: o =>
        {
            o.IdempotentMethods.Add("greet.Greeter/SayHello");
            o.UnaryMethods.Add("greet.Greeter/SayHello");
        });
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Calls run 8 at a time; when the 100th completes, b2 is killed with calls in flight on its connection. No call past
        // the 150th starts before b2 is dead, so it dies mid-run however slowly the kill goes through.
        Dictionary<string, int> counts = await cluster.SpreadAsync(300, parallelism: 8, afterCall: async n =>
        {
            if (n == 100)
            {
                _ = KillAsync(cluster["b2"], killed);
            }
            if (n >= 150)
            {
                await killed.Task;
            }
        });
        await killed.Task;

        Assert.Equal(300, counts.Values.Sum());
        // b2 answered until it died (its share then went to the others): every call was answered by someone.
        Assert.InRange(counts.GetValueOrDefault("b2"), 1, 99);
        Assert.True(counts["b1"] > 100 && counts["b3"] > 100, string.Join(", ", counts));
    }

    [Fact]
    public async Task StoppingABackendMidRun_LosesNoUnaryCall_EvenOfANonIdempotentMethod()
    {
        // Graceful stop: in-flight calls finish; calls that find the listener gone were never sent and go elsewhere; calls
        // that raced the GOAWAY onto the draining connection are refused by it and go elsewhere. b3 keeps serving a stream
        // through its stop (as a server does a longer call), so its connection outlives the GOAWAY: SocketsHttpHandler fails
        // a call queued on a connection that closes before the call's headers went out like one the server had accepted
        // (HttpProtocolException NO_ERROR), and a non-idempotent call cannot be retried on that (docs/grpc.md).
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3);
        using var streaming = new CancellationTokenSource();
        AsyncServerStreamingCall<HelloReply> held = await StreamOnAsync(cluster, "b3", streaming.Token);
        var stopping = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);

        Dictionary<string, int> counts = await cluster.SpreadAsync(300, parallelism: 8, afterCall: n =>
        {
            if (n == 100)
            {
                stopping.SetResult(cluster["b3"].StopAsync(TimeSpan.FromSeconds(60)));
            }
            return Task.CompletedTask;
        });
        // b3's stop waits for the stream; ending it lets b3 exit.
        Task stop = await stopping.Task;
        await streaming.CancelAsync();
        held.Dispose();
        await stop;

        Assert.Equal(300, counts.Values.Sum());
        Assert.True(counts["b1"] > 100 && counts["b2"] > 100, string.Join(", ", counts));
    }

    private static async Task KillAsync(GrpcJsPeer peer, TaskCompletionSource killed)
    {
        try
        {
            await peer.KillAsync();
            killed.SetResult();
        }
        catch (Exception ex)
        {
            killed.SetException(ex);
        }
    }

    // A server stream answered by `server` (round-robin: one of the next calls goes there), its first message read.
    private static async Task<AsyncServerStreamingCall<HelloReply>> StreamOnAsync(GreeterCluster cluster, string server, CancellationToken cancellationToken)
    {
        for (int i = 0; i < 6; i++)
        {
            AsyncServerStreamingCall<HelloReply> call = cluster.Client.StreamHellos(new HelloStreamRequest { Name = "held", Count = 0, IntervalMs = 50 }, cancellationToken: cancellationToken);
            Assert.True(await call.ResponseStream.MoveNext(cancellationToken));
            if (call.ResponseStream.Current.Server == server)
            {
                return call;
            }
            call.Dispose();
        }
        throw new InvalidOperationException($"no stream reached {server} in 6 round-robin calls");
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

        RpcException error = await Assert.ThrowsAsync<RpcException>(() => cluster.HelloAsync());

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
