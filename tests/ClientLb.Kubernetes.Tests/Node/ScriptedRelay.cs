using ClientLb.Kubernetes.Node.Protocol;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Tests.Node;

/// <summary>A node relay whose <c>Watch</c> streams are written by the test (Grpc.AspNetCore on a Unix socket).</summary>
internal sealed class ScriptedRelay : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ScriptedRelay(WebApplication app) => _app = app;

    public static async Task<ScriptedRelay> StartAsync(string socket, Func<WatchRequest, IServerStreamWriter<WatchEvent>, ServerCallContext, Task> watch)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new Script(watch));
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socket, l => l.Protocols = HttpProtocols.Http2));
        WebApplication app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync();
        return new ScriptedRelay(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(new CancellationToken(canceled: true));
        await _app.DisposeAsync();
    }

    private sealed record Script(Func<WatchRequest, IServerStreamWriter<WatchEvent>, ServerCallContext, Task> Watch);

    private sealed class Service(Script script) : NodeRelay.NodeRelayBase
    {
        public override Task Watch(WatchRequest request, IServerStreamWriter<WatchEvent> responseStream, ServerCallContext context) =>
            script.Watch(request, responseStream, context);
    }
}
