using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Samples.Demo;

/// <summary>A real Kestrel server on its own loopback address, answering with its name.</summary>
internal sealed class Backend(string name, WebApplication app, string authority) : IAsyncDisposable
{
    public string Name { get; } = name;

    public string Authority { get; } = authority;

    public bool Stopped { get; private set; }

    public static async Task<Backend> StartAsync(string name, string address)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(address), 0));
        WebApplication app = builder.Build();
        app.Run(context =>
        {
            context.Response.Headers["x-backend"] = name;
            return context.Response.WriteAsync(name);
        });
        await app.StartAsync();
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return new Backend(name, app, $"{address}:{bound.Port}");
    }

    public async Task StopAsync()
    {
        Stopped = true;
        await app.StopAsync();
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
