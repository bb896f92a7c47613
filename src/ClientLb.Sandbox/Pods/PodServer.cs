using System.Net;
using System.Text;
using ClientLb.Sandbox.Pods.Grpc;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ClientLb.Sandbox.Pods;

/// <summary>
/// A pod's workload: a real Kestrel server on the pod's own loopback address answering every request on its
/// container ports with the pod name (plain text; X-Pod-Name, X-Pod-Namespace and X-Pod-IP headers too).
/// Ports named h2c* or grpc* speak cleartext HTTP/2 (prior knowledge), the others HTTP/1.1; on them, gRPC calls
/// (content-type application/grpc) reach the greeter and grpc.health.v1 that <see cref="PodGrpcService"/> serves with Grpc.AspNetCore.
/// </summary>
internal sealed class PodServer : IAsyncDisposable
{
    private readonly KestrelServer _server;
    private readonly PodGrpcService _grpc;
    private readonly Application _application;

    private PodServer(KestrelServer server, PodGrpcService grpc, Application application)
    {
        _server = server;
        _grpc = grpc;
        _application = application;
    }

    /// <summary>The fault its plain HTTP answers carry (<see cref="PodFault"/>, from the pod's annotations).</summary>
    public PodFault Fault
    {
        get => _application.Fault;
        set => _application.Fault = value;
    }

    /// <summary>Whether the pod is ready: gRPC health checks answer SERVING while it is, NOT_SERVING otherwise.</summary>
    public bool Ready
    {
        get => _grpc.Ready;
        set => _grpc.Ready = value;
    }

    /// <summary>Starts listening; ports in <paramref name="http2Only"/> speak cleartext HTTP/2 (prior knowledge) only.</summary>
    public static async Task<PodServer> StartAsync(string ns, string podName, string ip, IReadOnlyList<int> ports, IReadOnlySet<int> http2Only, ILoggerFactory? loggerFactory,
        Func<int, Logs.LogBook> logOfPort, TimeProvider time, CancellationToken ct)
    {
        var options = new KestrelServerOptions { AddServerHeader = false };
        options.ApplicationServices = new ServiceCollection().AddLogging().BuildServiceProvider();
        var address = IPAddress.Parse(ip);
        foreach (int port in ports)
        {
            // Without TLS Kestrel cannot negotiate: a port is either HTTP/1.1 or h2c.
            options.Listen(address, port, l => l.Protocols = http2Only.Contains(port) ? HttpProtocols.Http2 : HttpProtocols.Http1);
        }

        ILoggerFactory logs = loggerFactory ?? NullLoggerFactory.Instance;
        var grpc = new PodGrpcService(podName);
        var server = new KestrelServer(Options.Create(options), new SocketTransportFactory(Options.Create(new SocketTransportOptions()), logs), logs);
        var application = new Application(ns, podName, ip, http2Only, grpc, time);
        try
        {
            await server.StartAsync(new Logs.RequestLog(application, logOfPort, time), ct);
        }
        catch
        {
            server.Dispose();
            await grpc.DisposeAsync();
            throw;
        }
        return new PodServer(server, grpc, application);
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try { await _server.StopAsync(cts.Token); } catch (OperationCanceledException) { }
        _server.Dispose();
        await _grpc.DisposeAsync();
    }

    private sealed class Application(string ns, string podName, string ip, IReadOnlySet<int> http2Only, PodGrpcService grpc, TimeProvider time) : IHttpApplication<HttpContext>
    {
        private readonly byte[] _body = Encoding.UTF8.GetBytes(podName);

        public PodFault Fault { get => Volatile.Read(ref _fault); set => Volatile.Write(ref _fault, value); }

        private PodFault _fault = PodFault.None;

        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public async Task ProcessRequestAsync(HttpContext context)
        {
            HttpResponse r = context.Response;
            r.Headers["X-Pod-Name"] = podName;
            if (http2Only.Contains(context.Connection.LocalPort) && PodGrpcService.IsGrpc(context.Request))
            {
                await grpc.HandleAsync(context);
                return;
            }
            if (await Fault.ApplyAsync(context, time))
            {
                return;
            }

            r.StatusCode = 200;
            r.ContentType = "text/plain; charset=utf-8";
            r.ContentLength = _body.Length;
            r.Headers["X-Pod-Namespace"] = ns;
            r.Headers["X-Pod-IP"] = ip;
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await r.Body.WriteAsync(_body, context.RequestAborted);
            }
        }

        public void DisposeContext(HttpContext context, Exception? exception) { }
    }
}
