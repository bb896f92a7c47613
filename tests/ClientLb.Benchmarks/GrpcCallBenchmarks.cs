using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using ClientLb.Grpc;
using ClientLb.Grpc.Configuration;
using ClientLb.Registry;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// One unary call (Grpc.Net.Client's generated greeter client, h2c, Grpc.AspNetCore on loopback Kestrel in a process of
/// its own, so the allocated bytes are the client's), in one run:
/// the clientlb:/// resolver with clientlb_round_robin and clientlb_p2c versus grpc-dotnet's own static-resolver
/// round_robin channel to the same three backends; and the HttpHandler path (retries on, the default, and off) versus a
/// plain channel to one backend. Sequential (1) and 16 calls at once (time and allocation are per operation: divide by
/// Concurrency for one call).
/// dotnet run -c Release --project tests/ClientLb.Benchmarks -- --filter '*GrpcCall*' --job short
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class GrpcCallBenchmarks
{
    private const string ThreeBackends = "three backends", OneBackend = "one backend";
    private static readonly HelloRequest Request = new() { Name = "bench" };
    private GrpcBackends _backends = null!;
    private readonly List<GrpcChannel> _channels = [];
    private ServiceProvider _provider = null!;
    private Greeter.GreeterClient _staticRoundRobin = null!, _clientLbRoundRobin = null!, _clientLbP2c = null!;
    private Greeter.GreeterClient _plain = null!, _handler = null!, _handlerNoRetry = null!, _forwarding = null!;

    /// <summary>Whether the backends run in a process of their own (the default), outside this process's bytes and CPU.</summary>
    public bool BackendsOutOfProcess => _backends.OutOfProcess;

    /// <summary>Calls made at once per operation.</summary>
    [Params(1, 16)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _backends = await GrpcBackends.StartAsync(3);
        List<string> authorities = _backends.Authorities;
        var settings = new Dictionary<string, string?>();
        _backends.Configure(settings, "bench-one", 1);
        _backends.Configure(settings, "bench-grpc", 3);
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddClientLbGrpc();
        services.AddSingleton<ResolverFactory>(_backends.StaticResolver());
        _provider = services.BuildServiceProvider();

        _staticRoundRobin = Client("static:///bench", "round_robin");
        _clientLbRoundRobin = Client("clientlb:///bench-grpc", "clientlb_round_robin");
        _clientLbP2c = Client("clientlb:///bench-grpc", null);
        _plain = Client("http://" + authorities[0], null);
        _handler = Client("http://bench-one", null, ClientLbGrpc.CreateHandler(_provider));
        _handlerNoRetry = Client("http://bench-one", null, ClientLbGrpc.CreateHandler(_provider.GetRequiredService<ServiceRegistry>(), new ClientLbGrpcOptions { MaxRetryAttempts = 0 }));
        _forwarding = Client("http://bench-one", null, new ForwardingHandler(authorities[0]));

        // Connect every channel's subchannels before measuring.
        for (int i = 0; i < 50; i++)
        {
            foreach (Greeter.GreeterClient client in (Greeter.GreeterClient[])[_staticRoundRobin, _clientLbRoundRobin, _clientLbP2c, _plain, _handler, _handlerNoRetry, _forwarding])
            {
                await client.SayHelloAsync(Request, new CallOptions().WithWaitForReady());
            }
        }
    }

    private Greeter.GreeterClient Client(string address, string? policy, HttpMessageHandler? handler = null)
    {
        GrpcChannel channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            ServiceProvider = handler is null ? _provider : null,
            HttpHandler = handler,
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = policy is null ? null : new ServiceConfig { LoadBalancingConfigs = { new LoadBalancingConfig(policy) } },
        });
        _channels.Add(channel);
        return new Greeter.GreeterClient(channel);
    }

    private Task Calls(Greeter.GreeterClient client)
    {
        if (Concurrency == 1)
        {
            return client.SayHelloAsync(Request).ResponseAsync;
        }
        var calls = new Task[Concurrency];
        for (int i = 0; i < calls.Length; i++)
        {
            calls[i] = client.SayHelloAsync(Request).ResponseAsync;
        }
        return Task.WhenAll(calls);
    }

    [Benchmark(Baseline = true), BenchmarkCategory(ThreeBackends)]
    public Task GrpcDotnetStaticRoundRobin() => Calls(_staticRoundRobin);

    [Benchmark, BenchmarkCategory(ThreeBackends)]
    public Task ClientLbResolverRoundRobin() => Calls(_clientLbRoundRobin);

    [Benchmark, BenchmarkCategory(ThreeBackends)]
    public Task ClientLbResolverP2c() => Calls(_clientLbP2c);

    [Benchmark(Baseline = true), BenchmarkCategory(OneBackend)]
    public Task PlainChannel() => Calls(_plain);

    [Benchmark, BenchmarkCategory(OneBackend)]
    public Task HttpHandlerPath() => Calls(_handler);

    [Benchmark, BenchmarkCategory(OneBackend)]
    public Task HttpHandlerPathRetriesOff() => Calls(_handlerNoRetry);

    /// <summary>
    /// The floor of any HttpHandler: a handler that only forwards each call to one backend over a SocketsHttpHandler set
    /// up as ClientLb's per-endpoint pools are (no proxy, cookies or redirects; sockets to the endpoint's address), with
    /// no pick and no accounting. grpc-dotnet runs its own balancer handler in front of it, as in front of ClientLb's.
    /// </summary>
    [Benchmark, BenchmarkCategory(OneBackend)]
    public Task ForwardingHandlerFloor() => Calls(_forwarding);

    private sealed class ForwardingHandler : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _invoker;

        public ForwardingHandler(string authority)
        {
            var backend = IPEndPoint.Parse(authority);
            _invoker = new HttpMessageInvoker(new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                UseProxy = false,
                UseCookies = false,
                AllowAutoRedirect = false,
                ConnectCallback = async (_, cancellationToken) =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(backend, cancellationToken);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            });
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _invoker.SendAsync(request, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _invoker.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        foreach (GrpcChannel channel in _channels)
        {
            channel.Dispose();
        }
        await _provider.DisposeAsync();
        await _backends.DisposeAsync();
    }
}
