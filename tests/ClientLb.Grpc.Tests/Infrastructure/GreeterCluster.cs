using ClientLb.Balancing;
using ClientLb.Grpc.Configuration;
using ClientLb.Names;
using ClientLb.Registry;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// N grpc-js greeter backends on their own 127.0.B.x addresses, a container whose ClientLb configuration lists them as
/// the service <c>greeter</c>, and one Grpc.Net.Client channel to <c>http://greeter</c> whose HttpHandler is ClientLb's.
/// </summary>
public sealed class GreeterCluster : IAsyncDisposable
{
    public const string SayHello = "/greet.Greeter/SayHello";
    public const string StreamHellos = "/greet.Greeter/StreamHellos";
    private static int _nextBlock = 20;

    private GreeterCluster(List<GrpcJsPeer> peers, ServiceProvider provider, HttpMessageHandler handler, string scheme)
    {
        Peers = peers;
        Provider = provider;
        Handler = handler;
        // The handler is disposed by the cluster (a test may dispose it earlier), not with the channel.
        Channel = GrpcChannel.ForAddress(scheme + "://greeter", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = false });
        Client = new Greeter.GreeterClient(Channel);
    }

    public IReadOnlyList<GrpcJsPeer> Peers { get; }

    public ServiceProvider Provider { get; }

    public HttpMessageHandler Handler { get; }

    public GrpcChannel Channel { get; }

    public Greeter.GreeterClient Client { get; }

    public ServiceRegistry Registry => Provider.GetRequiredService<ServiceRegistry>();

    /// <summary>The balancer calls to <c>http://greeter</c> use.</summary>
    public ServiceBalancer Balancer => Registry.GetBalancer(ServiceName.Parse("http://greeter", Registry.Defaults));

    public GrpcJsPeer this[string name] => Peers.Single(p => p.Name == name);

    /// <summary>Starts <paramref name="count"/> backends b1..bN; <paramref name="policy"/> and <paramref name="configure"/> set the client side.</summary>
    public static async Task<GreeterCluster> StartAsync(int count, string policy = "RoundRobin", Action<ClientLbGrpcOptions>? configure = null,
        IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, string[]? peerArgs = null, bool https = false)
    {
        int block = Interlocked.Increment(ref _nextBlock);
        GrpcJsPeer[] started = await Task.WhenAll(Enumerable.Range(1, count).Select(i => GrpcJsPeer.StartAsync($"b{i}", $"127.0.{block}.{i + 1}", peerArgs ?? [])));
        List<GrpcJsPeer> peers = started.ToList();
        var values = new Dictionary<string, string?> { ["ClientLb:Services:greeter:Policy"] = policy };
        for (int i = 0; i < peers.Count; i++)
        {
            values[$"ClientLb:Services:greeter:Endpoints:{i}"] = (https ? "https://" : "") + peers[i].Authority;
        }
        foreach ((string key, string? value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        services?.Invoke(collection);
        collection.AddClientLbGrpc(configure);
        ServiceProvider provider = collection.BuildServiceProvider();
        return new GreeterCluster(peers, provider, ClientLbGrpc.CreateHandler(provider), https ? "https" : "http");
    }

    public Task FailAsync(string peer, int status, int delayMs = 0) => this[peer].FailAsync(status, delayMs);

    public Task<HelloReply> HelloAsync(string name = "test", CancellationToken cancellationToken = default) =>
        Client.SayHelloAsync(new HelloRequest { Name = name }, cancellationToken: cancellationToken).ResponseAsync;

    /// <summary>Makes <paramref name="calls"/> calls, <paramref name="parallelism"/> at a time, and counts replies per backend.</summary>
    public async Task<Dictionary<string, int>> SpreadAsync(int calls, int parallelism = 1, Func<int, Task>? afterCall = null)
    {
        var counts = new Dictionary<string, int>();
        int next = 0;
        await Task.WhenAll(Enumerable.Range(0, parallelism).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) is int n && n <= calls)
            {
                HelloReply reply = await HelloAsync($"call {n}");
                lock (counts)
                {
                    counts[reply.Server] = counts.GetValueOrDefault(reply.Server) + 1;
                }
                if (afterCall is not null)
                {
                    await afterCall(n);
                }
            }
        }));
        return counts;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        Handler.Dispose();
        await Provider.DisposeAsync();
        foreach (GrpcJsPeer peer in Peers)
        {
            await peer.DisposeAsync();
        }
    }
}
