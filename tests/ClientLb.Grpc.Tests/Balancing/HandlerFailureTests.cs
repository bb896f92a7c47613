using ClientLb.Balancing;
using ClientLb.Grpc.Tests.Infrastructure;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Testing;
using Greet;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>
/// The failures of issue 13 on the HttpHandler path (GrpcChannelOptions.HttpHandler = ClientLb's handler), called with
/// Grpc.Net.Client against real @grpc/grpc-js servers.
/// </summary>
public sealed class HandlerFailureTests
{
    private static int _nextBlock = 140;

    private static string Block() => $"127.0.{Interlocked.Increment(ref _nextBlock)}";

    // An address:port a backend listened on and no longer does (connects are refused; a backend can come back on it).
    private static async Task<string> FreedAuthorityAsync(string address)
    {
        GrpcJsPeer peer = await GrpcJsPeer.StartAsync("gone", address);
        string authority = peer.Authority;
        await peer.DisposeAsync();
        return authority;
    }

    [Fact]
    public async Task An_endpoint_that_drops_SYNs_loses_no_call_with_a_2s_deadline_and_idempotent_retry()
    {
        using var blackhole = new BlackholeNamespace();
        string block = Block();
        await using GrpcJsPeer b1 = await GrpcJsPeer.StartAsync("b1", $"{block}.2");
        await using GrpcJsPeer b3 = await GrpcJsPeer.StartAsync("b3", $"{block}.4");
        await using HandlerChannel channel = HandlerChannel.Create([b1.Authority, $"{blackhole.Address}:50051", b3.Authority], new Dictionary<string, string?>
        {
            ["ClientLb:Grpc:IdempotentMethods:0"] = "greet.Greeter/SayHello",
        });

        (List<string> failures, Dictionary<string, int> served) = await GreeterCalls.WithDeadlineAsync(channel.Client, 3, 30, TimeSpan.FromSeconds(2));

        Assert.Empty(failures);
        Assert.Equal(90, served.Values.Sum());
        ServiceBalancer balancer = channel.Provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://greeter");
        Assert.True(balancer.KnownEndpoints.Single(e => e.Endpoint.Host == blackhole.Address).IsEjected, "the endpoint that never accepts was not ejected");
    }

    [Fact]
    public async Task A_wait_for_ready_call_waits_for_an_endpoint_that_starts_a_second_later()
    {
        string block = Block();
        string authority = await FreedAuthorityAsync($"{block}.2");
        await using HandlerChannel channel = HandlerChannel.Create([authority]);

        AsyncUnaryCall<HelloReply> call = channel.Client.SayHelloAsync(new HelloRequest { Name = "patient" },
            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)).WithWaitForReady());
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(call.ResponseAsync.IsCompleted, "the wait-for-ready call did not wait: " + call.ResponseAsync.Exception?.InnerException?.Message);
        await using GrpcJsPeer late = await GrpcJsPeer.StartAsync("late", $"{block}.2", "--port", authority.Split(':')[1]);

        HelloReply reply = await call;

        Assert.Equal("late", reply.Server);
    }

    [Fact]
    public async Task Without_wait_for_ready_a_refused_call_fails_with_UNAVAILABLE_naming_service_and_pod()
    {
        string authority = await FreedAuthorityAsync($"{Block()}.2");
        await using HandlerChannel channel = HandlerChannel.Create([authority]);

        RpcException error = await Assert.ThrowsAsync<RpcException>(() => channel.Client.SayHelloAsync(new HelloRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("greeter.default", error.Status.Detail + error.Status.DebugException?.Message);
        Assert.Contains(authority, error.Status.Detail + error.Status.DebugException?.Message);
    }

    [Fact]
    public async Task An_unknown_service_fails_with_UNAVAILABLE_and_the_reason()
    {
        await using HandlerChannel channel = HandlerChannel.Create(["127.0.0.1:1"], address: "http://nosuchservice.nowhere");

        RpcException error = await Assert.ThrowsAsync<RpcException>(() => channel.Client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync);

        Assert.True(error.StatusCode == StatusCode.Unavailable, error.Status.ToString());
        Assert.Contains("nosuchservice.nowhere", error.Status.Detail);
    }

    [Fact]
    public async Task A_backend_restarted_on_its_address_gets_calls_again_within_2s()
    {
        // ClientLb's clock is moved by hand: the ejection (30 s) never ends on it, so only a probe can bring b2 back.
        var time = new FakeTimeProvider();
        string block = Block();
        await using GrpcJsPeer b1 = await GrpcJsPeer.StartAsync("b1", $"{block}.2");
        GrpcJsPeer b2 = await GrpcJsPeer.StartAsync("b2", $"{block}.3");
        string b2Authority = b2.Authority;
        await using HandlerChannel channel = HandlerChannel.Create([b1.Authority, b2Authority], new Dictionary<string, string?>
        {
            ["ClientLb:Services:greeter:Health:ConsecutiveConnectionFailures"] = "2",
        }, services: s => s.AddSingleton<TimeProvider>(time));
        ServiceBalancer balancer = channel.Provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://greeter");
        BalancedEndpoint endpoint = balancer.KnownEndpoints.Single(e => e.Endpoint.Authority == b2Authority);
        await b2.KillAsync();
        await b2.DisposeAsync();
        for (int i = 0; i < 6; i++)
        {
            await channel.Client.SayHelloAsync(new HelloRequest());
        }
        Assert.True(endpoint.IsEjected);

        await using GrpcJsPeer restarted = await GrpcJsPeer.StartAsync("b2", $"{block}.3", "--port", b2Authority.Split(':')[1]);
        // The probe loop waits one interval on the clock since the ejection: moving it once runs one probe (a TCP connect).
        time.Advance(new HealthOptions().ProbeInterval);
        bool reached = await GreeterCalls.ReachesWithinAsync(channel.Client, "b2", TimeSpan.FromSeconds(30));

        Assert.True(reached, "the restarted backend got no call after one probe interval (500 ms on ClientLb's clock; its ejection: 30 s)");
    }

    [Fact]
    public async Task An_endpoint_ejected_for_UNAVAILABLE_is_probed_with_grpc_health_and_returns_when_it_serves()
    {
        // ClientLb's clock is moved by hand: the ejection (30 s) never ends on it, so only a probe can bring b1 back.
        var time = new FakeTimeProvider();
        string block = Block();
        await using GrpcJsPeer b1 = await GrpcJsPeer.StartAsync("b1", $"{block}.2");
        await using GrpcJsPeer b2 = await GrpcJsPeer.StartAsync("b2", $"{block}.3");
        await using GrpcJsPeer b3 = await GrpcJsPeer.StartAsync("b3", $"{block}.4");
        await using HandlerChannel channel = HandlerChannel.Create([b1.Authority, b2.Authority, b3.Authority], new Dictionary<string, string?>
        {
            ["ClientLb:Services:greeter:Health:ConsecutiveServerErrors"] = "2",
            ["ClientLb:Grpc:IdempotentMethods:0"] = "greet.Greeter/SayHello",
            // Check rounds far apart: what brings b1 back is the probe of the ejected endpoint, not a round.
            ["ClientLb:Grpc:HealthChecks:greeter:Interval"] = "01:00:00",
        }, services: s => s.AddSingleton<TimeProvider>(time));
        for (int i = 0; i < 3; i++)
        {
            await channel.Client.SayHelloAsync(new HelloRequest());
        }
        ServiceBalancer balancer = channel.Provider.GetRequiredService<ServiceRegistry>().GetBalancer("http://greeter");
        BalancedEndpoint endpoint = balancer.KnownEndpoints.Single(e => e.Endpoint.Authority == b1.Authority);
        var probes = new ProbeClock(time, balancer, new HealthOptions().ProbeInterval);
        await b1.SetHealthAsync("", "NOT_SERVING");
        await b1.FailAsync(14);
        for (int i = 0; i < 12; i++)
        {
            Assert.NotEqual("b1", (await channel.Client.SayHelloAsync(new HelloRequest())).Server);
        }
        Assert.True(endpoint.IsEjected);

        // A TCP connect would succeed now; the health probe says NOT_SERVING, so b1 stays out.
        Assert.False(await probes.NextProbeAsync(), "the probe of a NOT_SERVING endpoint said it serves");
        Assert.True(endpoint.IsEjected, "an endpoint whose health check says NOT_SERVING returned");

        await b1.FailAsync(0);
        await b1.SetHealthAsync("", "SERVING");
        Assert.True(await probes.NextProbeAsync(), "the probe of a SERVING endpoint said it does not serve");
        Assert.True(await GreeterCalls.ReachesWithinAsync(channel.Client, "b1", TimeSpan.FromSeconds(30)),
            "b1 got no call after its probe said SERVING (its ejection, 30 s on ClientLb's clock, had not ended)");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_request_is_kept_for_a_replay_only_for_an_idempotent_method(bool idempotent)
    {
        await using KestrelGreeter server = await KestrelGreeter.StartAsync("k1", $"{Block()}.2");
        await using HandlerChannel channel = HandlerChannel.Create([server.Authority], idempotent
            ? new Dictionary<string, string?> { ["ClientLb:Grpc:IdempotentMethods:0"] = "greet.Greeter/SayHello" }
            : null);
        using var invoker = new HttpMessageInvoker(ClientLbGrpc.CreateHandler(channel.Provider));
        byte[] message = Google.Protobuf.MessageExtensions.ToByteArray(new HelloRequest { Name = "body" });
        byte[] frame = [0, 0, 0, 0, (byte)message.Length, .. message];
        var body = new ByteArrayContent(frame);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/SayHello") { Content = body, Version = System.Net.HttpVersion.Version20 };

        using HttpResponseMessage response = await invoker.SendAsync(request, CancellationToken.None);

        // Not idempotent: a retry happens only when nothing was sent, and then the caller's own body was never read.
        Assert.Equal(idempotent, !ReferenceEquals(body, request.Content));
    }
}
