using System.Net;
using System.Net.Http.Headers;
using ClientLb.Grpc.Tests.Infrastructure;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>The call's deadline (grpc-timeout, as Grpc.Net.Client sends it) bounds its retries, and each retry carries what is left of it.</summary>
public sealed class DeadlineTests : IAsyncLifetime
{
    private static int _nextBlock = 120;
    private readonly FakeTimeProvider _clock = new();
    private HeldBackend[] _backends = [];
    private ServiceProvider _provider = null!;
    private HttpMessageHandler _handler = null!;
    private GrpcChannel _channel = null!;

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
        _handler = ClientLbGrpc.CreateHandler(_provider);
        _channel = GrpcChannel.ForAddress("http://greeter", new GrpcChannelOptions { HttpHandler = _handler, DisposeHttpClient = false });
    }

    [Fact]
    public async Task RetryAfterUnavailable_CarriesTheRemainingDeadline()
    {
        foreach (HeldBackend backend in _backends)
        {
            backend.HoldNext();
        }
        Task<HelloReply> call = CallAsync(TimeSpan.FromSeconds(5));
        HeldBackend first = await FirstArrivalAsync();
        _clock.Advance(TimeSpan.FromSeconds(1.5));
        first.Release();

        HelloReply reply = await call;

        HeldBackend second = _backends.Single(b => b != first);
        Assert.Equal(second.Name, reply.Server);
        // Grpc.Net.Client sent what was left of 5 s; the retry got that less the 1.5 s that passed on ClientLb's clock.
        long sent = Milliseconds(Assert.Single(first.Timeouts));
        Assert.InRange(sent, 4000, 5000);
        Assert.Equal(sent - 1500, Milliseconds(Assert.Single(second.Timeouts)));
    }

    [Fact]
    public async Task NoRetry_OnceTheDeadlineHasPassed()
    {
        foreach (HeldBackend backend in _backends)
        {
            backend.HoldNext();
        }
        Task<HelloReply> call = CallAsync(TimeSpan.FromSeconds(10));
        HeldBackend first = await FirstArrivalAsync();
        _clock.Advance(TimeSpan.FromSeconds(11));
        first.Release();

        RpcException error = await Assert.ThrowsAsync<RpcException>(() => call);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal("held then unavailable", error.Status.Detail);
        Assert.Empty(_backends.Single(b => b != first).Timeouts);
    }

    [Fact]
    public async Task MalformedGrpcTimeout_IsRejectedNamingTheHeader()
    {
        // Grpc.Net.Client always sends a valid header; a hand-built request through the handler may not.
        using var invoker = new HttpMessageInvoker(_handler, disposeHandler: false);
        var content = new ByteArrayContent([]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        var request = new HttpRequestMessage(HttpMethod.Post, "http://greeter/greet.Greeter/SayHello") { Version = HttpVersion.Version20, Content = content };
        request.Headers.TryAddWithoutValidation("grpc-timeout", "soon");

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => invoker.SendAsync(request, CancellationToken.None));

        Assert.Contains("grpc-timeout header 'soon'", error.Message);
        Assert.All(_backends, b => Assert.Empty(b.Timeouts));
    }

    private Task<HelloReply> CallAsync(TimeSpan deadline) =>
        new Greeter.GreeterClient(_channel).SayHelloAsync(new HelloRequest { Name = "deadline" }, deadline: DateTime.UtcNow + deadline).ResponseAsync;

    private static long Milliseconds(string header)
    {
        Assert.True(ClientLb.Grpc.Balancing.GrpcHeaders.TryParseTimeout(header, out TimeSpan timeout), $"grpc-timeout '{header}'");
        return (long)timeout.TotalMilliseconds;
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

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        _handler.Dispose();
        await _provider.DisposeAsync();
        foreach (HeldBackend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }
}
