using ClientLb.Samples.PaymentProtocol;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ClientLb.Samples.PaymentService;

/// <summary>The payment service: <c>GET /process</c> over HTTP/1.1 and <c>payments.v1.Payments/Process</c> over gRPC.</summary>
public static class PaymentApp
{
    /// <summary>
    /// Builds the app for one pod. <paramref name="podName"/> is what every answer names (POD_NAME, else the host name);
    /// it listens on <paramref name="address"/> port <paramref name="httpPort"/> (HTTP/1.1) and <paramref name="grpcPort"/>
    /// (cleartext HTTP/2: without TLS, Kestrel cannot offer both on one port).
    /// </summary>
    public static WebApplication Build(string podName, string address, int httpPort = 8080, int grpcPort = 8081, string[]? args = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args ?? []);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            System.Net.IPAddress ip = System.Net.IPAddress.Parse(address);
            k.Listen(ip, httpPort, l => l.Protocols = HttpProtocols.Http1);
            k.Listen(ip, grpcPort, l => l.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new PodIdentity(podName));
        WebApplication app = builder.Build();
        app.MapGet("/process", (PodIdentity pod) => $"payment processed by {pod.Name}");
        app.MapGet("/healthz", () => "ok");
        app.MapGrpcService<PaymentsService>();
        return app;
    }
}

/// <summary>The name of the pod this process serves.</summary>
public sealed record PodIdentity(string Name);

/// <summary>The gRPC face of <c>/process</c>.</summary>
public sealed class PaymentsService(PodIdentity pod) : Payments.PaymentsBase
{
    /// <inheritdoc />
    public override Task<ProcessReply> Process(ProcessRequest request, ServerCallContext context) =>
        Task.FromResult(new ProcessReply { Pod = pod.Name, OrderId = request.OrderId });
}
