using System.Buffers.Binary;
using System.Net;
using ClientLb.Grpc.Tests.Infrastructure;
using Google.Protobuf;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Tests.Resolution;

/// <summary>
/// A backend that dies after its answer's headers and message but before its trailers (as a SIGKILLed grpc-js backend
/// under load does): grpc-dotnet commits a call once its response headers arrive and never retries it after, so on the
/// resolver path only the read-ahead of <see cref="ClientLbGrpc.CreateResolverHandler"/> lets the retry policy act.
/// </summary>
public sealed class ResolverReadAheadTests
{
    private static int _nextHost = 1;

    [Fact]
    public async Task An_answer_cut_before_its_trailers_is_retried_with_the_resolver_handler()
    {
        await using CutBackend backend = await CutBackend.StartAsync($"127.0.230.{Interlocked.Increment(ref _nextHost)}");
        await using ServiceProvider services = Container(backend.Authority);
        var handler = (DelegatingHandler)ClientLbGrpc.CreateResolverHandler(services);
        using GrpcChannel channel = Channel(services, handler);

        HelloReply reply = await new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal("cut", reply.Server);
        Assert.Equal(2, backend.Calls);
        // grpc-dotnet still owns the connections (its subchannels' sockets), as without the handler.
        Assert.NotNull(Assert.IsType<SocketsHttpHandler>(handler.InnerHandler).ConnectCallback);
    }

    [Fact]
    public async Task Without_the_resolver_handler_grpc_dotnet_does_not_retry_an_answer_cut_before_its_trailers()
    {
        // The premise of the handler: grpc-dotnet's retry policy alone loses this call (the headers committed it).
        await using CutBackend backend = await CutBackend.StartAsync($"127.0.230.{Interlocked.Increment(ref _nextHost)}");
        await using ServiceProvider services = Container(backend.Authority);
        using GrpcChannel channel = Channel(services, null);

        await Assert.ThrowsAsync<RpcException>(async () =>
            await new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));
        Assert.Equal(1, backend.Calls);
    }

    [Fact]
    public void The_resolver_handler_needs_AddClientLbGrpc()
    {
        using ServiceProvider services = new ServiceCollection().BuildServiceProvider();

        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => ClientLbGrpc.CreateResolverHandler(services));
        Assert.Contains("AddClientLbGrpc", ex.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Container(string endpoint)
    {
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ClientLb:Services:greeter:Endpoints:0"] = endpoint,
            ["ClientLb:Grpc:UnaryMethods:0"] = "greet.Greeter/SayHello",
        }).Build());
        collection.AddClientLbGrpc();
        return collection.BuildServiceProvider();
    }

    private static GrpcChannel Channel(IServiceProvider services, HttpMessageHandler? handler) =>
        GrpcChannel.ForAddress("clientlb:///greeter", new GrpcChannelOptions
        {
            ServiceProvider = services,
            HttpHandler = handler,
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = SayHelloRetry.RoundRobin(),
        });

    // SayHello over raw HTTP/2: the first call gets its headers and reply message, then the stream is reset (no trailers);
    // later calls get the reply and grpc-status 0.
    private sealed class CutBackend(WebApplication app) : IAsyncDisposable
    {
        private int _calls;

        public string Authority { get; private set; } = "";

        public int Calls => Volatile.Read(ref _calls);

        public static async Task<CutBackend> StartAsync(string address)
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(address), 0, l => l.Protocols = HttpProtocols.Http2));
            WebApplication app = builder.Build();
            var backend = new CutBackend(app);
            app.MapPost("/greet.Greeter/SayHello", (RequestDelegate)backend.SayHelloAsync);
            await app.StartAsync();
            backend.Authority = $"{address}:{new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port}";
            return backend;
        }

        private async Task SayHelloAsync(HttpContext http)
        {
            int call = Interlocked.Increment(ref _calls);
            await http.Request.Body.CopyToAsync(Stream.Null);
            byte[] message = new HelloReply { Server = "cut", Message = "Hello" }.ToByteArray();
            byte[] frame = new byte[5 + message.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
            message.CopyTo(frame, 5);
            http.Response.ContentType = "application/grpc";
            await http.Response.Body.WriteAsync(frame);
            if (call == 1)
            {
                await http.Response.Body.FlushAsync();
                http.Abort();
                return;
            }
            http.Response.AppendTrailer("grpc-status", "0");
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }
}
