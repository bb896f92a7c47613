using System.Net;
using ClientLb.Grpc.Calls;
using ClientLb.Grpc.Protocol;
using ClientLb.Grpc.Tests.Infrastructure;
using Greet;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>The call's grpc-timeout bounds its retries, and each retry carries what is left of it.</summary>
public sealed class DeadlineTests : IAsyncLifetime
{
    private static int _nextBlock = 120;
    private readonly ManualTimeProvider _clock = new();
    private HeldBackend[] _backends = [];
    private ServiceProvider _provider = null!;
    private HttpMessageInvoker _invoker = null!;

    public async Task InitializeAsync()
    {
        int block = Interlocked.Increment(ref _nextBlock);
        _backends = await Task.WhenAll(HeldBackend.StartAsync("k1", $"127.0.{block}.2"), HeldBackend.StartAsync("k2", $"127.0.{block}.3"));
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ClientLb:Services:greeter:Endpoints:0"] = _backends[0].Authority,
            ["ClientLb:Services:greeter:Endpoints:1"] = _backends[1].Authority,
            ["ClientLb:Services:greeter:Policy"] = "RoundRobin",
            ["ClientLb:Grpc:IdempotentMethods:0"] = "greet.Greeter/SayHello",
        }).Build());
        services.AddSingleton<TimeProvider>(_clock);
        services.AddClientLbGrpc();
        _provider = services.BuildServiceProvider();
        _invoker = new HttpMessageInvoker(ClientLbGrpc.CreateHandler(_provider));
    }

    [Fact]
    public async Task RetryAfterUnavailable_CarriesTheRemainingDeadline()
    {
        foreach (HeldBackend backend in _backends)
        {
            backend.HoldNext();
        }
        Task<HttpResponseMessage> call = SendAsync("5S");
        HeldBackend first = await FirstArrivalAsync();
        _clock.Advance(TimeSpan.FromSeconds(1.5));
        first.Release();

        using HttpResponseMessage response = await call;
        HelloReply reply = await ReadReplyAsync(response);

        HeldBackend second = _backends.Single(b => b != first);
        Assert.Equal(second.Name, reply.Server);
        Assert.Equal(["5S"], first.Timeouts);
        Assert.Equal(["3500m"], second.Timeouts);
    }

    [Fact]
    public async Task NoRetry_OnceTheDeadlineHasPassed()
    {
        foreach (HeldBackend backend in _backends)
        {
            backend.HoldNext();
        }
        Task<HttpResponseMessage> call = SendAsync("1S");
        HeldBackend first = await FirstArrivalAsync();
        _clock.Advance(TimeSpan.FromSeconds(2));
        first.Release();

        using HttpResponseMessage response = await call;

        Assert.Equal(GrpcStatusCode.Unavailable, GrpcStatus.FromHeaders(response.Headers)?.Code);
        Assert.Equal("held then unavailable", GrpcStatus.FromHeaders(response.Headers)?.Detail);
        Assert.Empty(_backends.Single(b => b != first).Timeouts);
    }

    [Fact]
    public async Task MalformedGrpcTimeout_IsRejectedNamingTheHeader()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => SendAsync("soon"));
        Assert.Contains("grpc-timeout header 'soon'", error.Message);
        Assert.All(_backends, b => Assert.Empty(b.Timeouts));
    }

    private Task<HttpResponseMessage> SendAsync(string timeout)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "http://greeter" + GreeterCluster.SayHello)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new GrpcMessageContent(new HelloRequest { Name = "deadline" }),
        };
        request.Headers.TryAddWithoutValidation(GrpcTimeout.HeaderName, timeout);
        return _invoker.SendAsync(request, CancellationToken.None);
    }

    private async Task<HeldBackend> FirstArrivalAsync()
    {
        Task arrived = await Task.WhenAny(_backends.Select(b => b.Arrived.Task)).WaitAsync(TimeSpan.FromSeconds(10));
        HeldBackend first = _backends.Single(b => b.Arrived.Task == arrived);
        // The other backend answers a retry at once.
        foreach (HeldBackend other in _backends.Where(b => b != first))
        {
            other.CancelHold();
        }
        return first;
    }

    private static async Task<HelloReply> ReadReplyAsync(HttpResponseMessage response)
    {
        Assert.Null(GrpcStatus.FromHeaders(response.Headers));
        Stream body = await response.Content.ReadAsStreamAsync();
        HelloReply? reply = await GrpcFraming.ReadAsync(body, HelloReply.Parser, GrpcFraming.DefaultMaxMessageSize, CancellationToken.None);
        Assert.NotNull(reply);
        Assert.Null(await GrpcFraming.ReadAsync(body, HelloReply.Parser, GrpcFraming.DefaultMaxMessageSize, CancellationToken.None));
        Assert.Equal("0", GrpcStatus.FromHeaders(response.TrailingHeaders)?.Code.ToString("D"));
        return reply;
    }

    public async Task DisposeAsync()
    {
        _invoker.Dispose();
        await _provider.DisposeAsync();
        foreach (HeldBackend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }
}
