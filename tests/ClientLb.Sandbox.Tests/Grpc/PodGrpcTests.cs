using ClientLb.Grpc;
using ClientLb.Grpc.Calls;
using ClientLb.Grpc.Protocol;
using ClientLb.Sandbox.Tests.Infrastructure;
using Greet;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Sandbox.Tests.Grpc;

/// <summary>Pods serve the greeter and grpc.health.v1 on ports named grpc*, called with ClientLb's GrpcCaller.</summary>
public class PodGrpcTests
{
    const int GrpcPort = 50051;

    const string Greeter = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: greeter}
        spec:
          replicas: 3
          selector: {matchLabels: {app: greeter}}
          template:
            metadata: {labels: {app: greeter}}
            spec:
              containers:
                - name: greeter
                  image: sandbox/greeter
                  ports: [{name: grpc, containerPort: 50051}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: greeter}
        spec:
          selector: {app: greeter}
          ports: [{name: grpc, port: 80, targetPort: grpc}]
        """;

    static async Task<SandboxCluster> StartGreetersAsync()
    {
        var cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero });
        try
        {
            await cluster.ApplyManifestAsync(Greeter);
            await cluster.WaitForReadyEndpointsAsync("greeter", 3, cancellationToken: Deadline.In());
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    static GrpcCallOptions Timeout => new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task SayHello_reaches_each_pod_and_answers_with_its_name()
    {
        await using var cluster = await StartGreetersAsync();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var pods = cluster.GetPods("app=greeter");
        Assert.Equal(3, pods.Count);
        foreach (var pod in pods)
        {
            var caller = new GrpcCaller(invoker, pod.GetUri(GrpcPort));
            var first = await caller.UnaryAsync("/greet.Greeter/SayHello", new HelloRequest { Name = "tests" }, HelloReply.Parser, Timeout);
            var second = await caller.UnaryAsync("/greet.Greeter/SayHello", new HelloRequest { Name = "again" }, HelloReply.Parser);
            Assert.Equal("Hello tests", first.Message);
            Assert.Equal(pod.Name, first.Server);
            Assert.Equal(1, first.Sequence);
            Assert.InRange(first.DeadlineMs, 1, 10_000);
            Assert.Equal("Hello again", second.Message);
            Assert.Equal(2, second.Sequence);
            Assert.Equal(-1, second.DeadlineMs);
        }
    }

    [Fact]
    public async Task SayHello_fails_with_the_status_the_request_asks_for()
    {
        await using var cluster = await StartGreetersAsync();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var caller = new GrpcCaller(invoker, cluster.GetPods("app=greeter")[0].GetUri(GrpcPort));
        var ex = await Assert.ThrowsAsync<GrpcCallException>(() => caller.UnaryAsync("/greet.Greeter/SayHello",
            new HelloRequest { Name = "x", FailWithStatus = (int)GrpcStatusCode.FailedPrecondition, FailMessage = "nope: 100% sure" }, HelloReply.Parser, Timeout));
        Assert.Equal(GrpcStatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal("nope: 100% sure", ex.Status.Detail);
    }

    [Fact]
    public async Task StreamHellos_sends_count_replies()
    {
        await using var cluster = await StartGreetersAsync();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var pod = cluster.GetPods("app=greeter")[0];
        var caller = new GrpcCaller(invoker, pod.GetUri(GrpcPort));
        var replies = new List<HelloReply>();
        await foreach (var reply in caller.ServerStreamingAsync("/greet.Greeter/StreamHellos", new HelloStreamRequest { Name = "s", Count = 3, IntervalMs = 10 }, HelloReply.Parser, Timeout))
            replies.Add(reply);
        Assert.Equal([1, 2, 3], replies.Select(r => r.Sequence));
        Assert.All(replies, r => Assert.Equal(pod.Name, r.Server));
    }

    [Fact]
    public async Task Health_check_follows_the_pods_readiness()
    {
        await using var cluster = await StartGreetersAsync();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var pod = cluster.GetPods("app=greeter")[0];
        var caller = new GrpcCaller(invoker, pod.GetUri(GrpcPort));
        var check = () => caller.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser, Timeout);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await check()).Status);

        await cluster.SetPodReadyAsync(pod.Name, false);
        await cluster.WaitUntilAsync(c => c.GetPods("app=greeter").Single(p => p.Name == pod.Name) is { Ready: false }, Deadline.In());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await check()).Status);

        await cluster.SetPodReadyAsync(pod.Name, true);
        await cluster.WaitUntilAsync(c => c.GetPods("app=greeter").Single(p => p.Name == pod.Name) is { Ready: true }, Deadline.In());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await check()).Status);

        var unknown = await Assert.ThrowsAsync<GrpcCallException>(() => caller.UnaryAsync("/grpc.health.v1.Health/Check",
            new HealthCheckRequest { Service = "no.Such" }, HealthCheckResponse.Parser, Timeout));
        Assert.Equal(GrpcStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task An_unknown_method_is_unimplemented_and_plain_http2_still_gets_the_pod_name()
    {
        await using var cluster = await StartGreetersAsync();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var pod = cluster.GetPods("app=greeter")[0];
        var caller = new GrpcCaller(invoker, pod.GetUri(GrpcPort));
        var ex = await Assert.ThrowsAsync<GrpcCallException>(() => caller.UnaryAsync("/greet.Greeter/SayGoodbye", new HelloRequest(), HelloReply.Parser, Timeout));
        Assert.Equal(GrpcStatusCode.Unimplemented, ex.StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, pod.GetUri(GrpcPort))
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await invoker.SendAsync(request, CancellationToken.None);
        Assert.Equal(pod.Name, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ClientLb_spreads_the_calls_of_one_channel_over_the_pods()
    {
        await using var cluster = await StartGreetersAsync();
        var services = new ServiceCollection();
        services.AddClientLbGrpc();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        await using var provider = services.BuildServiceProvider();
        using var channel = new HttpMessageInvoker(ClientLbGrpc.CreateHandler(provider));
        var greeter = new GrpcCaller(channel, new Uri("http://greeter.default"));

        var perPod = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < 90; i++)
        {
            var reply = await greeter.UnaryAsync("/greet.Greeter/SayHello", new HelloRequest { Name = "lb" }, HelloReply.Parser, Timeout);
            perPod[reply.Server] = perPod.GetValueOrDefault(reply.Server) + 1;
        }

        Assert.True(perPod.Keys.ToHashSet().SetEquals(cluster.GetPods("app=greeter").Select(p => p.Name)), string.Join(", ", perPod));
        // HTTP/2 defaults to power-of-two-choices; sequential calls tie on outstanding requests, so the split is random
        // (binomial around 30), not exact thirds: the range leaves room for that and still catches a pinned channel.
        Assert.All(perPod.Values, count => Assert.InRange(count, 12, 50));
    }
}
