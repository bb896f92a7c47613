using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Benchmarks;

/// <summary>The backends of the benchmarks and load tests: a Kestrel server on a loopback address, answering "ok" unless told otherwise.</summary>
public static class LoopbackKestrel
{
    /// <summary>Starts <paramref name="count"/> "ok" servers on <paramref name="prefix"/>.2, .3, ... speaking <paramref name="version"/>.</summary>
    public static async Task<(List<WebApplication> Apps, List<string> Authorities)> StartManyAsync(string prefix, int count, Version version)
    {
        var apps = new List<WebApplication>();
        var authorities = new List<string>();
        for (int i = 0; i < count; i++)
        {
            (WebApplication app, string authority) = await StartAsync($"{prefix}.{i + 2}", version == HttpVersion.Version20 ? HttpProtocols.Http2 : HttpProtocols.Http1);
            apps.Add(app);
            authorities.Add(authority);
        }
        return (apps, authorities);
    }

    /// <summary>Starts a server on <paramref name="address"/>:<paramref name="port"/> (0: a free port); returns it and its host:port.</summary>
    public static async Task<(WebApplication App, string Authority)> StartAsync(string address, HttpProtocols protocols = HttpProtocols.Http1, int port = 0, Action<WebApplication>? map = null,
        Action<IServiceCollection>? services = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(address), port, l => l.Protocols = protocols));
        WebApplication app = builder.Build();
        if (map is null)
        {
            app.Run(context => context.Response.WriteAsync("ok"));
        }
        else
        {
            map(app);
        }
        await app.StartAsync();
        int bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return (app, $"{address}:{bound}");
    }
}
