using ClientLb.Grpc;
using ClientLb.Sandbox.Tests.Infrastructure;
using Google.Protobuf;
using Greet;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Sandbox.Tests.Grpc;

/// <summary>Pods serve the greeter and grpc.health.v1 (Grpc.AspNetCore) on ports named grpc*, called with Grpc.Net.Client.</summary>
public class PodGrpcTests
{
    private const int GrpcPort = 50051;

    private const string Greeter = """
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

    private static async Task<SandboxCluster> StartGreetersAsync()
    {
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { DefaultTerminationGracePeriod = TimeSpan.Zero });
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

    // ClientLb gRPC with the Kubernetes source watching the sandbox.
    private static ServiceProvider ClientLbOver(SandboxCluster cluster)
    {
        var services = new ServiceCollection();
        services.AddClientLbGrpc();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        return services.BuildServiceProvider();
    }

    private static DateTime Deadline10s => DateTime.UtcNow.AddSeconds(10);

    private static GrpcChannel ChannelTo(Uri pod) => GrpcChannel.ForAddress(pod);

    [Fact]
    public async Task SayHello_reaches_each_pod_and_answers_with_its_name()
    {
        await using SandboxCluster cluster = await StartGreetersAsync();
        IReadOnlyList<SandboxPod> pods = cluster.GetPods("app=greeter");
        Assert.Equal(3, pods.Count);
        foreach (SandboxPod pod in pods)
        {
            using GrpcChannel channel = ChannelTo(pod.GetUri(GrpcPort));
            var greeter = new Greeter.GreeterClient(channel);
            HelloReply first = await greeter.SayHelloAsync(new HelloRequest { Name = "tests" }, deadline: Deadline10s);
            HelloReply second = await greeter.SayHelloAsync(new HelloRequest { Name = "again" });
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
        await using SandboxCluster cluster = await StartGreetersAsync();
        using GrpcChannel channel = ChannelTo(cluster.GetPods("app=greeter")[0].GetUri(GrpcPort));
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => new Greeter.GreeterClient(channel).SayHelloAsync(
            new HelloRequest { Name = "x", FailWithStatus = (int)StatusCode.FailedPrecondition, FailMessage = "nope: 100% sure" }, deadline: Deadline10s).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal("nope: 100% sure", ex.Status.Detail);
    }

    [Fact]
    public async Task StreamHellos_sends_count_replies()
    {
        await using SandboxCluster cluster = await StartGreetersAsync();
        SandboxPod pod = cluster.GetPods("app=greeter")[0];
        using GrpcChannel channel = ChannelTo(pod.GetUri(GrpcPort));
        using AsyncServerStreamingCall<HelloReply> call = new Greeter.GreeterClient(channel).StreamHellos(new HelloStreamRequest { Name = "s", Count = 3, IntervalMs = 10 }, deadline: Deadline10s);
        var replies = new List<HelloReply>();
        await foreach (HelloReply? reply in call.ResponseStream.ReadAllAsync())
        {
            replies.Add(reply);
        }

        Assert.Equal([1, 2, 3], replies.Select(r => r.Sequence));
        Assert.All(replies, r => Assert.Equal(pod.Name, r.Server));
    }

    [Fact]
    public async Task Health_check_follows_the_pods_readiness()
    {
        await using SandboxCluster cluster = await StartGreetersAsync();
        SandboxPod pod = cluster.GetPods("app=greeter")[0];
        using GrpcChannel channel = ChannelTo(pod.GetUri(GrpcPort));
        var health = new Health.HealthClient(channel);
        Func<Task<HealthCheckResponse>> check = () => health.CheckAsync(new HealthCheckRequest(), deadline: Deadline10s).ResponseAsync;
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await check()).Status);

        await cluster.SetPodReadyAsync(pod.Name, false);
        await cluster.WaitUntilAsync(c => c.GetPods("app=greeter").Single(p => p.Name == pod.Name) is { Ready: false }, Deadline.In());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await check()).Status);

        await cluster.SetPodReadyAsync(pod.Name, true);
        await cluster.WaitUntilAsync(c => c.GetPods("app=greeter").Single(p => p.Name == pod.Name) is { Ready: true }, Deadline.In());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await check()).Status);

        RpcException unknown = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "no.Such" }, deadline: Deadline10s).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task An_unknown_method_is_unimplemented_and_plain_http2_still_gets_the_pod_name()
    {
        await using SandboxCluster cluster = await StartGreetersAsync();
        SandboxPod pod = cluster.GetPods("app=greeter")[0];
        using GrpcChannel channel = ChannelTo(pod.GetUri(GrpcPort));
        var goodbye = new Method<HelloRequest, HelloReply>(MethodType.Unary, "greet.Greeter", "SayGoodbye",
            Marshallers.Create(r => r.ToByteArray(), HelloRequest.Parser.ParseFrom), Marshallers.Create(r => r.ToByteArray(), HelloReply.Parser.ParseFrom));
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => channel.CreateCallInvoker().AsyncUnaryCall(goodbye, null, new CallOptions(deadline: Deadline10s), new HelloRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());

        using var request = new HttpRequestMessage(HttpMethod.Get, pod.GetUri(GrpcPort))
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using HttpResponseMessage response = await invoker.SendAsync(request, CancellationToken.None);
        Assert.Equal(pod.Name, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ClientLb_spreads_the_calls_of_one_channel_over_the_pods()
    {
        await using SandboxCluster cluster = await StartGreetersAsync();
        await using ServiceProvider provider = ClientLbOver(cluster);
        using var channel = GrpcChannel.ForAddress("http://greeter.default", new GrpcChannelOptions { HttpHandler = ClientLbGrpc.CreateHandler(provider) });
        var greeter = new Greeter.GreeterClient(channel);

        var perPod = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < 90; i++)
        {
            HelloReply reply = await greeter.SayHelloAsync(new HelloRequest { Name = "lb" }, deadline: Deadline10s);
            perPod[reply.Server] = perPod.GetValueOrDefault(reply.Server) + 1;
        }

        Assert.True(perPod.Keys.ToHashSet().SetEquals(cluster.GetPods("app=greeter").Select(p => p.Name)), string.Join(", ", perPod));
        // HTTP/2 defaults to power-of-two-choices; sequential calls tie on outstanding requests, so the split is random
        // (binomial around 30), not exact thirds: the range leaves room for that and still catches a pinned channel.
        Assert.All(perPod.Values, count => Assert.InRange(count, 12, 50));
    }

    [Fact]
    public async Task A_clientlb_channel_reaches_every_pod_by_the_named_port_and_a_port_name_the_Service_lacks_fails_with_UNAVAILABLE_naming_both()
    {
        await using SandboxCluster cluster = await StartGreetersAsync();
        await using ServiceProvider provider = ClientLbOver(cluster);
        using var channel = GrpcChannel.ForAddress("clientlb:///greeter.default:grpc", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var greeter = new Greeter.GreeterClient(channel);
        var seen = new HashSet<string>();
        for (int i = 0; i < 200 && seen.Count < 3; i++)
        {
            seen.Add((await greeter.SayHelloAsync(new HelloRequest { Name = "resolver" }, new CallOptions(deadline: Deadline10s).WithWaitForReady())).Server);
        }

        Assert.True(seen.SetEquals(cluster.GetPods("app=greeter").Select(p => p.Name)), string.Join(", ", seen));

        using var wrongPort = GrpcChannel.ForAddress("clientlb:///greeter.default:metrics", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        RpcException error = await Assert.ThrowsAsync<RpcException>(() => new Greeter.GreeterClient(wrongPort).SayHelloAsync(new HelloRequest(), deadline: Deadline10s).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("greeter", error.Status.Detail);
        Assert.Contains("metrics", error.Status.Detail);
    }
}
