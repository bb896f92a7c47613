using System.Net;
using Greet;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// The greeter served by Grpc.AspNetCore on Kestrel (h2c) on a 127.x.y.z address: the .NET server every gRPC user has;
/// with grpc.health.v1 from Grpc.HealthCheck's <see cref="HealthServiceImpl"/> (SERVING until <see cref="SetServing"/> says otherwise).
/// </summary>
public sealed class KestrelGreeter : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly HealthServiceImpl _health;

    private KestrelGreeter(WebApplication app, HealthServiceImpl health, string name, string authority)
    {
        _app = app;
        _health = health;
        Name = name;
        Authority = authority;
    }

    public string Name { get; }

    public string Authority { get; }

    /// <summary>What the health service answers, for the whole server ("") and for greet.Greeter.</summary>
    public void SetServing(bool serving)
    {
        HealthCheckResponse.Types.ServingStatus status = serving ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing;
        _health.SetStatus("", status);
        _health.SetStatus("greet.Greeter", status);
    }

    public static async Task<KestrelGreeter> StartAsync(string name, string address, int port = 0)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(address), port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new ServerName(name));
        var health = new HealthServiceImpl();
        builder.Services.AddSingleton(health);
        WebApplication app = builder.Build();
        app.MapGrpcService<GreeterService>();
        app.MapGrpcService<HealthServiceImpl>();
        await app.StartAsync();
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var greeter = new KestrelGreeter(app, health, name, new Uri(bound).Authority);
        greeter.SetServing(true);
        return greeter;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private sealed record ServerName(string Value);

    private sealed class GreeterService(ServerName name) : Greeter.GreeterBase
    {
        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
        {
            if (request.FailWithStatus != 0)
            {
                throw new RpcException(new Status((StatusCode)request.FailWithStatus, request.FailMessage));
            }
            return Task.FromResult(new HelloReply { Message = "Hello " + request.Name, Server = name.Value, DeadlineMs = -1 });
        }

        public override async Task StreamHellos(HelloStreamRequest request, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
        {
            for (int i = 0; request.Count == 0 || i < request.Count; i++)
            {
                await responseStream.WriteAsync(new HelloReply { Message = "Hello " + request.Name, Server = name.Value, Sequence = i, DeadlineMs = -1 });
                await Task.Delay(request.IntervalMs, context.CancellationToken);
            }
        }
    }
}
