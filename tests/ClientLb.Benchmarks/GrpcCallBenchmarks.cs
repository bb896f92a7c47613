using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using ClientLb.Grpc;
using ClientLb.Grpc.Calls;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// One unary gRPC call (h2c, loopback Kestrel answering with a message and grpc-status trailers) made the same way each
/// time: directly over one SocketsHttpHandler to a fixed backend (baseline) versus through ClientLb's gRPC handler
/// balancing per call over three backends (with its defaults, and with retries off, which skips the replay copy).
/// dotnet run -c Release --project tests/ClientLb.Benchmarks -- --filter '*GrpcCall*' --job short
/// </summary>
[MemoryDiagnoser]
public class GrpcCallBenchmarks
{
    private const string Method = "/bench.Echo/Say";
    private static readonly StringValue Request = new() { Value = "ping" };
    private readonly List<WebApplication> _servers = [];
    private ServiceProvider _provider = null!;
    private GrpcCaller _direct = null!;
    private GrpcCaller _balanced = null!;
    private GrpcCaller _balancedNoRetry = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        var authorities = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            authorities.Add(await StartServerAsync($"127.0.6.{i + 2}"));
        }
        _direct = new GrpcCaller(new HttpMessageInvoker(new SocketsHttpHandler()), new Uri("http://" + authorities[0]));

        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(
            authorities.Select((a, i) => new KeyValuePair<string, string?>($"ClientLb:Services:bench-grpc:Endpoints:{i}", a))).Build();
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddClientLbGrpc();
        _provider = services.BuildServiceProvider();
        _balanced = new GrpcCaller(new HttpMessageInvoker(ClientLbGrpc.CreateHandler(_provider)), new Uri("http://bench-grpc"));
        _balancedNoRetry = new GrpcCaller(new HttpMessageInvoker(ClientLbGrpc.CreateHandler(
            _provider.GetRequiredService<ServiceDiscovery.ServiceRegistry>(), new Grpc.Configuration.ClientLbGrpcOptions { MaxRetryAttempts = 0 })), new Uri("http://bench-grpc"));

        // Warm every connection.
        for (int i = 0; i < 30; i++)
        {
            await Direct();
            await Balanced();
            await BalancedNoRetry();
        }
    }

    private async Task<string> StartServerAsync(string address)
    {
        byte[] reply = Frame(new StringValue { Value = "pong" });
        (WebApplication app, string authority) = await LoopbackKestrel.StartAsync(address, HttpProtocols.Http2, map: app => app.MapPost(Method, async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(reply);
            context.Response.AppendTrailer("grpc-status", "0");
        }));
        _servers.Add(app);
        return authority;
    }

    private static byte[] Frame(IMessage message)
    {
        byte[] frame = new byte[5 + message.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)(frame.Length - 5));
        message.WriteTo(frame.AsSpan(5));
        return frame;
    }

    [Benchmark(Baseline = true)]
    public async Task<string> Direct() => (await _direct.UnaryAsync(Method, Request, StringValue.Parser)).Value;

    [Benchmark]
    public async Task<string> Balanced() => (await _balanced.UnaryAsync(Method, Request, StringValue.Parser)).Value;

    [Benchmark]
    public async Task<string> BalancedNoRetry() => (await _balancedNoRetry.UnaryAsync(Method, Request, StringValue.Parser)).Value;

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _provider.DisposeAsync();
        foreach (WebApplication app in _servers)
        {
            await app.DisposeAsync();
        }
    }
}
