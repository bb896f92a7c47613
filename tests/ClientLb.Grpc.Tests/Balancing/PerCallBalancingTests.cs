using ClientLb.Balancing;
using ClientLb.Grpc.Tests.Infrastructure;
using Greet;
using Grpc.Core;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>Per-call picks over one HTTP/2 client, against real grpc-js backends.</summary>
public sealed class PerCallBalancingTests
{
    [Fact]
    public async Task ThreeHundredUnaryCalls_OverOneHttp2Client_SpreadEvenlyOverThreeBackends()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3);

        Dictionary<string, int> counts = await cluster.SpreadAsync(300, parallelism: 6);

        Assert.Equal(["b1", "b2", "b3"], counts.Keys.Order());
        Assert.All(counts.Values, count => Assert.InRange(count, 90, 110));
        // The backends agree: each served what the client counted.
        foreach (GrpcJsPeer peer in cluster.Peers)
        {
            Assert.Equal(counts[peer.Name], (await peer.CountAsync()).Served);
        }
    }

    [Fact]
    public async Task ServerStreamingCall_StaysOnOneBackend_WhileUnaryCallsKeepSpreading()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3);
        using AsyncServerStreamingCall<HelloReply> call = cluster.Client.StreamHellos(new HelloStreamRequest { Name = "stream", Count = 0, IntervalMs = 5 });
        IAsyncStreamReader<HelloReply> stream = call.ResponseStream;
        Assert.True(await stream.MoveNext());
        string pinned = stream.Current.Server;
        BalancedEndpoint endpoint = cluster.Balancer.KnownEndpoints.Single(e => e.Endpoint.Authority == cluster[pinned].Authority);

        Dictionary<string, int> counts = await cluster.SpreadAsync(90);
        // The open stream is load on its endpoint for as long as it lasts.
        Assert.Equal(1, endpoint.Outstanding);
        for (int i = 0; i < 20; i++)
        {
            Assert.True(await stream.MoveNext());
            Assert.Equal(pinned, stream.Current.Server);
        }

        Assert.Equal(["b1", "b2", "b3"], counts.Keys.Order());
        Assert.All(counts.Values, count => Assert.InRange(count, 25, 35));
        call.Dispose();
        Assert.Equal(0, endpoint.Outstanding);
    }

    [Fact]
    public async Task StreamsBeyondOneConnectionsLimit_OpenMoreConnectionsToTheEndpoint()
    {
        // Each connection admits 2 concurrent streams: 6 open streams to one backend need at least 3 connections.
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(1, peerArgs: ["--max-streams", "2"]);
        var streams = new List<AsyncServerStreamingCall<HelloReply>>();
        try
        {
            for (int i = 0; i < 6; i++)
            {
                AsyncServerStreamingCall<HelloReply> stream = cluster.Client.StreamHellos(new HelloStreamRequest { Name = $"s{i}", Count = 0, IntervalMs = 50 });
                streams.Add(stream);
                Assert.True(await stream.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(10)), $"stream {i} got no first message");
            }
            Assert.Equal(6, cluster.Balancer.KnownEndpoints.Single().Outstanding);
            // Unary calls still get through while every stream stays open.
            Assert.Equal("b1", (await cluster.HelloAsync().WaitAsync(TimeSpan.FromSeconds(10))).Server);
        }
        finally
        {
            foreach (AsyncServerStreamingCall<HelloReply> stream in streams)
            {
                stream.Dispose();
            }
        }
    }

    [Fact]
    public async Task OtherStatuses_PassThroughUntouched_AndAreNotRetried()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3, configure: o => o.IdempotentMethods.Add("greet.Greeter/*"));

        RpcException error = await Assert.ThrowsAsync<RpcException>(() => cluster.Client.SayHelloAsync(
            new HelloRequest { Name = "x", FailWithStatus = 5, FailMessage = "no such greeting: ünïcode %" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("no such greeting: ünïcode %", error.Status.Detail);
        int received = 0;
        foreach (GrpcJsPeer peer in cluster.Peers)
        {
            received += (await peer.CountAsync()).Received;
        }
        Assert.Equal(1, received);
    }
}
