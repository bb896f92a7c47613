using System.Globalization;
using Greet;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>The gRPC benchmarks' backends: Grpc.AspNetCore greeters on loopback Kestrel (127.0.6.2, .3, ...), h2c.</summary>
internal sealed class GrpcBackends : IAsyncDisposable
{
    private readonly List<WebApplication> _servers = [];

    private GrpcBackends()
    {
    }

    /// <summary>The backends' host:port.</summary>
    public List<string> Authorities { get; } = [];

    public static async Task<GrpcBackends> StartAsync(int count)
    {
        var backends = new GrpcBackends();
        for (int i = 0; i < count; i++)
        {
            (WebApplication app, string authority) = await LoopbackKestrel.StartAsync($"127.0.6.{i + 2}", HttpProtocols.Http2,
                map: app => app.MapGrpcService<BenchGreeter>(), services: s => s.AddGrpc());
            backends._servers.Add(app);
            backends.Authorities.Add(authority);
        }
        return backends;
    }

    /// <summary>ClientLb configuration that lists the first <paramref name="count"/> backends as the endpoints of <paramref name="service"/>.</summary>
    public void Configure(Dictionary<string, string?> settings, string service, int count)
    {
        for (int i = 0; i < count; i++)
        {
            settings[$"ClientLb:Services:{service}:Endpoints:{i}"] = Authorities[i];
        }
    }

    /// <summary>grpc-dotnet's static resolver (<c>static:///</c>) over all the backends.</summary>
    public StaticResolverFactory StaticResolver() =>
        new(_ => [.. Authorities.Select(a => new BalancerAddress(a.Split(':')[0], int.Parse(a.Split(':')[1], CultureInfo.InvariantCulture)))]);

    public async ValueTask DisposeAsync()
    {
        foreach (WebApplication app in _servers)
        {
            await app.DisposeAsync();
        }
    }

    private sealed class BenchGreeter : Greeter.GreeterBase
    {
        private static readonly HelloReply Reply = new() { Message = "Hello", Server = "bench", DeadlineMs = -1 };

        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context) => Task.FromResult(Reply);
    }
}
