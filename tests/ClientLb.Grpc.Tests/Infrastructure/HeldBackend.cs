using System.Collections.Concurrent;
using System.Net;
using ClientLb.Grpc.Protocol;
using Google.Protobuf;
using Greet;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// An in-process h2c gRPC backend (Kestrel) whose answers the test controls: the first SayHello it is told to hold waits
/// until released and then answers UNAVAILABLE (trailers-only); every other call gets a reply. It records the
/// grpc-timeout each call arrived with. (grpc-js enforces deadlines itself; this one does not, so the test decides.)
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
        WebApplication app = builder.Build();
        var backend = new HeldBackend(app, name);
        app.MapPost(GreeterCluster.SayHello, backend.HandleAsync);
        await app.StartAsync();
        backend.Authority = $"{address}:{new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port}";
        return backend;
    }

    private async Task HandleAsync(HttpContext context)
    {
        Timeouts.Enqueue(context.Request.Headers[GrpcTimeout.HeaderName].ToString());
        await context.Request.Body.CopyToAsync(Stream.Null);
        context.Response.ContentType = "application/grpc";
        if (Interlocked.Exchange(ref _hold, null) is TaskCompletionSource hold)
        {
            _held = hold;
            Arrived.TrySetResult();
            await hold.Task;
            context.Response.Headers[GrpcStatus.StatusHeader] = "14";
            context.Response.Headers[GrpcStatus.MessageHeader] = "held%20then%20unavailable";
            return;
        }
        await context.Response.Body.WriteAsync(GrpcFraming.Frame(new HelloReply { Server = Name }));
        context.Response.AppendTrailer(GrpcStatus.StatusHeader, "0");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
