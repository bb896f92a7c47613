using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Tests.Infrastructure;

/// <summary>A real Kestrel server on a loopback address that answers with its name and what it saw of the request.</summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private TestBackend(WebApplication app, string name, IPAddress address)
    {
        _app = app;
        Name = name;
        Address = address;
    }

    public string Name { get; }

    public IPAddress Address { get; }

    public int Port { get; private set; }

    public string Authority => $"{Address}:{Port}";

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Set to make the backend wait this long before answering (cancelled with the request).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>
    /// Set to run before each answer, after <see cref="Delay"/>: a test advances its clock here so that the time a request
    /// takes is what the test says, not what a loaded machine's scheduler makes of it.
    /// </summary>
    public Action? BeforeAnswer { get; set; }

    /// <summary>Set to make the backend answer with this status code.</summary>
    public int StatusCode { get; set; } = 200;

    public List<string> SniNames { get; } = [];

    public static async Task<TestBackend> StartAsync(string name, string address, HttpProtocols protocols = HttpProtocols.Http1AndHttp2, X509Certificate2? certificate = null, int port = 0)
    {
        IPAddress ip = IPAddress.Parse(address);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        TestBackend? self = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(ip, port, listen =>
        {
            listen.Protocols = protocols;
            if (certificate is not null)
            {
                listen.UseHttps(https => https.ServerCertificateSelector = (_, sni) =>
                {
                    lock (self!.SniNames)
                    {
                        self.SniNames.Add(sni ?? "");
                    }
                    return certificate;
                });
            }
        }));
        WebApplication app = builder.Build();
        self = new TestBackend(app, name, ip);
        app.Run(async context =>
        {
            Interlocked.Increment(ref self._requests);
            if (self.Delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(self.Delay, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            self.BeforeAnswer?.Invoke();
            context.Response.StatusCode = self.StatusCode;
            context.Response.Headers["x-backend"] = name;
            await context.Response.WriteAsync($"{name}|{context.Request.Host}|{context.Request.Protocol}");
        });
        await app.StartAsync();
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self.Port = new Uri(bound).Port;
        return self;
    }

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
