using ClientLb.Balancing;
using ClientLb.Grpc.Health;
using ClientLb.Grpc.Tests.Infrastructure;

namespace ClientLb.Grpc.Tests.Health;

/// <summary>grpc.health.v1 checks against grpc-js backends feed the picker's eligibility.</summary>
public sealed class ActiveHealthTests
{
    [Fact]
    public async Task BackendAnsweringNotServing_GetsNoNewCalls_UntilItServesAgain()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3,
            configure: o => o.HealthChecks["greeter"] = new() { ServiceName = "greet.Greeter", Interval = TimeSpan.FromHours(1) });
        Assert.Equal(3, (await cluster.SpreadAsync(3)).Count);
        GrpcHealthMonitor monitor = ((ClientLb.Grpc.Balancing.ClientLbGrpcHandler)cluster.Handler).HealthMonitor!;

        await cluster["b2"].SetHealthAsync("greet.Greeter", "NOT_SERVING");
        await monitor.CheckNowAsync(cluster.Balancer);
        Dictionary<string, int> during = await cluster.SpreadAsync(60, parallelism: 4);

        Assert.Equal(["b1", "b3"], during.Keys.Order());
        Assert.Equal(60, during.Values.Sum());
        BalancedEndpoint b2 = cluster.Balancer.KnownEndpoints.Single(e => e.Endpoint.Authority == cluster["b2"].Authority);
        Assert.True(b2.IsFailingHealthChecks);
        Assert.False(b2.IsEjected);

        await cluster["b2"].SetHealthAsync("greet.Greeter", "SERVING");
        await monitor.CheckNowAsync(cluster.Balancer);
        Dictionary<string, int> after = await cluster.SpreadAsync(30);

        Assert.Equal(10, after.GetValueOrDefault("b2"));
    }

    [Fact]
    public async Task CheckLoop_TakesANotServingBackendOut_AndRaisesHealthChanged()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(2,
            configure: o => o.HealthChecks["greeter.default"] = new() { Interval = TimeSpan.FromMilliseconds(50) });
        GrpcHealthMonitor monitor = ((ClientLb.Grpc.Balancing.ClientLbGrpcHandler)cluster.Handler).HealthMonitor!;
        var down = new TaskCompletionSource<GrpcHealthChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.HealthChanged += (_, e) =>
        {
            if (!e.Serving)
            {
                down.TrySetResult(e);
            }
        };
        await cluster.HelloAsync(); // the first call starts the service's checks

        await cluster["b1"].SetHealthAsync("", "NOT_SERVING");
        GrpcHealthChangedEventArgs change = await down.Task.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(cluster["b1"].Authority, change.Endpoint.Authority);
        Assert.Equal("NOT_SERVING", change.Reason);
        Dictionary<string, int> counts = await cluster.SpreadAsync(20);
        Assert.Equal(["b2"], counts.Keys);
    }

    [Fact]
    public async Task UnreachableBackend_FailsItsChecks_AfterTheThreshold()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3, configure: o =>
            o.HealthChecks["greeter"] = new() { Interval = TimeSpan.FromHours(1), UnhealthyThreshold = 2, Timeout = TimeSpan.FromSeconds(2) });
        await cluster.HelloAsync();
        GrpcHealthMonitor monitor = ((ClientLb.Grpc.Balancing.ClientLbGrpcHandler)cluster.Handler).HealthMonitor!;
        await monitor.CheckNowAsync(cluster.Balancer); // rounds in progress end before the kill
        await cluster["b3"].KillAsync();
        BalancedEndpoint b3 = cluster.Balancer.KnownEndpoints.Single(e => e.Endpoint.Authority == cluster["b3"].Authority);

        await monitor.CheckNowAsync(cluster.Balancer);
        Assert.False(b3.IsFailingHealthChecks);
        await monitor.CheckNowAsync(cluster.Balancer);
        Assert.True(b3.IsFailingHealthChecks);
    }

    [Fact]
    public async Task ServiceWithoutChecks_IsNotWatched_AndSaysHowToEnableThem()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(1, configure: o => o.HealthChecks["other"] = new());
        await cluster.HelloAsync();
        GrpcHealthMonitor monitor = ((ClientLb.Grpc.Balancing.ClientLbGrpcHandler)cluster.Handler).HealthMonitor!;

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => monitor.CheckNowAsync(cluster.Balancer));
        Assert.Contains("ClientLb:Grpc:HealthChecks:greeter", error.Message);
    }

    [Fact]
    public async Task ReleasedService_StopsItsChecks_WhenItsLastHandlerIsDisposed()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(2,
            configure: o => o.HealthChecks["greeter"] = new() { Interval = TimeSpan.FromHours(1) },
            settings: new Dictionary<string, string?> { ["ClientLb:IdleServiceTimeout"] = "00:00:00" });
        await cluster.HelloAsync();
        GrpcHealthMonitor monitor = ((ClientLb.Grpc.Balancing.ClientLbGrpcHandler)cluster.Handler).HealthMonitor!;
        ServiceBalancer balancer = Assert.Single(cluster.Registry.Balancers);
        await monitor.CheckNowAsync(balancer);

        // The monitor is the container's and outlives the handler; with no idle timeout the service goes with the handler.
        cluster.Handler.Dispose();

        Assert.True(balancer.Stopped.IsCancellationRequested);
        Assert.Empty(cluster.Registry.Balancers);
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => monitor.CheckNowAsync(balancer));
        Assert.Contains("has no active health checks", error.Message);
    }

    [Fact]
    public async Task EveryBackendNotServing_IsPanic_CallsStillGoToAllOfThem()
    {
        await using GreeterCluster cluster = await GreeterCluster.StartAsync(3,
            configure: o => o.HealthChecks["greeter"] = new() { Interval = TimeSpan.FromHours(1) });
        await cluster.HelloAsync();
        GrpcHealthMonitor monitor = ((ClientLb.Grpc.Balancing.ClientLbGrpcHandler)cluster.Handler).HealthMonitor!;

        foreach (GrpcJsPeer peer in cluster.Peers)
        {
            await peer.SetHealthAsync("", "NOT_SERVING");
        }
        await monitor.CheckNowAsync(cluster.Balancer);
        Dictionary<string, int> counts = await cluster.SpreadAsync(30);

        // All are failing their checks; rather than none, the panic threshold sends calls to all of them (docs/grpc.md).
        Assert.All(cluster.Balancer.KnownEndpoints, e => Assert.True(e.IsFailingHealthChecks));
        Assert.Equal(["b1", "b2", "b3"], counts.Keys.Order());
        Assert.Equal(30, counts.Values.Sum());
    }
}
