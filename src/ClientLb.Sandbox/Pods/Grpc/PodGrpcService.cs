using System.Diagnostics;
using Greet;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Sandbox.Pods.Grpc;

/// <summary>
/// The gRPC side of a pod's grpc*/h2c* ports, served by Grpc.AspNetCore: the <c>greet.Greeter</c> service of
/// greeter.proto (<c>SayHello</c> answering with the pod name, <c>StreamHellos</c>) and grpc.health.v1 from
/// Grpc.HealthCheck's <see cref="HealthServiceImpl"/> (SERVING while the pod is ready, for the server and for
/// greet.Greeter). Grpc.AspNetCore answers everything else (UNIMPLEMENTED, deadlines, framing, trailers).
/// </summary>
internal sealed class PodGrpcService : IAsyncDisposable
{
    private readonly string _podName;
    private readonly HealthServiceImpl _health = new();
    private readonly Lock _gate = new();
    private volatile Served? _served;
    private volatile bool _ready;

    public PodGrpcService(string podName)
    {
        _podName = podName;
        Ready = true;
    }

    /// <summary>Whether Health/Check answers SERVING; follows the pod's Ready condition.</summary>
    public bool Ready
    {
        get => _ready;
        set
        {
            _ready = value;
            HealthCheckResponse.Types.ServingStatus status = value ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing;
            _health.SetStatus("", status);
            _health.SetStatus("greet.Greeter", status);
        }
    }

    /// <summary>The services and pipeline, built at the pod's first gRPC call: most pods of a large cluster never get one.</summary>
    private sealed record Served(ServiceProvider Services, RequestDelegate Pipeline);

    private Served Serve()
    {
        lock (_gate)
        {
            if (_served is { } served)
            {
                return served;
            }

            var services = new ServiceCollection();
            services.AddLogging();
            // What a web host would register: endpoint routing reports to a DiagnosticListener.
            services.AddSingleton(new DiagnosticListener("ClientLb.Sandbox.Pods"));
            services.AddGrpc();
            services.AddSingleton(new PodGreeter(_podName));
            services.AddSingleton(_health);
            ServiceProvider provider = services.BuildServiceProvider();
            // The pod's Kestrel runs a bare IHttpApplication (PodServer); its gRPC calls go through this endpoint-routed pipeline.
            var app = new ApplicationBuilder(provider);
            app.UseRouting();
            app.UseEndpoints(endpoints =>
            {
                endpoints.MapGrpcService<PodGreeter>();
                endpoints.MapGrpcService<HealthServiceImpl>();
            });
            return _served = new Served(provider, app.Build());
        }
    }

    /// <summary>Whether a request is a gRPC call (HTTP/2, content-type application/grpc or application/grpc+...).</summary>
    public static bool IsGrpc(HttpRequest request) =>
        HttpProtocol.IsHttp2(request.Protocol) && request.ContentType is { } type
        && (type.Equals("application/grpc", StringComparison.OrdinalIgnoreCase) || type.StartsWith("application/grpc+", StringComparison.OrdinalIgnoreCase)
            || type.StartsWith("application/grpc;", StringComparison.OrdinalIgnoreCase));

    /// <summary>Serves one call.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        Served served = _served ?? Serve();
        await using AsyncServiceScope scope = served.Services.CreateAsyncScope();
        context.RequestServices = scope.ServiceProvider;
        await served.Pipeline(context);
    }

    public ValueTask DisposeAsync() => _served?.Services.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary>The greeter of one pod.</summary>
    private sealed class PodGreeter(string podName) : Greeter.GreeterBase
    {
        private int _served;

        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
        {
            if (request.FailWithStatus != 0)
            {
                StatusCode status = request.FailWithStatus is > 0 and <= 16 ? (StatusCode)request.FailWithStatus : StatusCode.Unknown;
                throw new RpcException(new Status(status, request.FailMessage.Length > 0 ? request.FailMessage : $"asked to fail by {podName}"));
            }
            return Task.FromResult(new HelloReply
            {
                Message = $"Hello {request.Name}",
                Server = podName,
                Sequence = Interlocked.Increment(ref _served),
                DeadlineMs = context.Deadline == DateTime.MaxValue ? -1 : Math.Max(0, (long)(context.Deadline - DateTime.UtcNow).TotalMilliseconds),
            });
        }

        public override async Task StreamHellos(HelloStreamRequest request, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
        {
            var interval = TimeSpan.FromMilliseconds(Math.Max(0, request.IntervalMs));
            for (int sent = 1; request.Count <= 0 || sent <= request.Count; sent++)
            {
                if (sent > 1)
                {
                    await Task.Delay(interval, context.CancellationToken);
                }

                await responseStream.WriteAsync(new HelloReply { Message = $"Hello {request.Name}", Server = podName, Sequence = sent, DeadlineMs = -1 });
            }
        }
    }
}
