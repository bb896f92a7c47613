using System.Collections.Concurrent;
using System.Net;
using Greet;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// A greeter on Grpc.AspNetCore (h2c) whose answers the test controls: the first SayHello it is told to hold waits until
/// released and then fails with UNAVAILABLE; every other call gets a reply. It records the grpc-timeout each call
/// arrived with.
/// </summary>
public sealed class HeldBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private TaskCompletionSource? _hold;
    private TaskCompletionSource? _held;

    private HeldBackend(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }

    public string Authority { get; private set; } = "";

    /// <summary>The grpc-timeout header of each call received, in order ("" when none).</summary>
    public ConcurrentQueue<string> Timeouts { get; } = new();

    /// <summary>Completes when the held call arrived.</summary>
    public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Holds the next call until <see cref="Release"/>.</summary>
    public void HoldNext() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Answers the held call (UNAVAILABLE).</summary>
    public void Release() => _held?.TrySetResult();

    /// <summary>Stops holding: the next call is answered at once.</summary>
    public void CancelHold() => Interlocked.Exchange(ref _hold, null);

    public static async Task<HeldBackend> StartAsync(string name, string address)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(address), 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var holder = new Holder();
        builder.Services.AddSingleton(holder);
        WebApplication app = builder.Build();
        var backend = new HeldBackend(app, name);
        holder.Backend = backend;
        app.MapGrpcService<HeldGreeter>();
        await app.StartAsync();
        backend.Authority = $"{address}:{new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port}";
        return backend;
    }

    private async Task<HelloReply> SayHelloAsync(ServerCallContext context)
    {
        Timeouts.Enqueue(context.GetHttpContext().Request.Headers["grpc-timeout"].ToString());
        if (Interlocked.Exchange(ref _hold, null) is TaskCompletionSource hold)
        {
            _held = hold;
            Arrived.TrySetResult();
            await hold.Task;
            throw new RpcException(new Status(StatusCode.Unavailable, "held then unavailable"));
        }
        return new HelloReply { Server = Name };
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private sealed class Holder
    {
        public HeldBackend Backend { get; set; } = null!;
    }

    private sealed class HeldGreeter(Holder holder) : Greeter.GreeterBase
    {
        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context) => holder.Backend.SayHelloAsync(context);
    }
}
