using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using ClientLb.Grpc;
using ClientLb.Grpc.Resolution;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// One pick of the resolver path: the <c>SubchannelPicker</c> a <c>clientlb:///</c> channel's balancer hands grpc-dotnet,
/// over three ready subchannels (loopback Kestrel backends), against grpc-dotnet's own round_robin picker over the same
/// three in the same run. Each picker is taken from a real channel (subchannels cannot be made outside one) by wrapping its
/// balancer factory. Target: &lt;= 10 ns and 0 B. The same picks from two threads at once (each of the 2 cores here
/// picking on the same picker) show what a picker's shared state costs when cores contend for it.
/// dotnet run -c Release --project tests/ClientLb.Benchmarks -- --filter '*GrpcPick*' --inProcess
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GrpcPickBenchmarks
{
    private const string OneThread = "one thread", TwoThreads = "two threads";
    private const int PicksPerThread = 200_000;
    private readonly TwoThreadRunner _twoThreads = new();
    private GrpcBackends _backends = null!;
    private readonly List<GrpcChannel> _channels = [];
    private readonly global::Grpc.Net.Client.Balancer.PickContext _context = new() { Request = new HttpRequestMessage(HttpMethod.Post, "http://bench-grpc/greet.Greeter/SayHello") };
    private ServiceProvider _provider = null!;
    private SubchannelPicker _grpcDotnetRoundRobin = null!, _clientLbRoundRobin = null!, _clientLbP2c = null!;

    // Synchronous: BenchmarkDotNet's in-process toolchain does not await an async setup for a synchronous benchmark.
    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _backends = await GrpcBackends.StartAsync(3);
        var settings = new Dictionary<string, string?>();
        _backends.Configure(settings, "bench-grpc", 3);
        CapturingFactory[] capturing = new[]
        {
            new CapturingFactory("bench_round_robin", new RoundRobinBalancerFactory()),
            new CapturingFactory("bench_clientlb_round_robin", ClientLbBalancerFactory.All.Single(f => f.Name == ClientLbBalancerFactory.RoundRobin)),
            new CapturingFactory("bench_clientlb_p2c", ClientLbBalancerFactory.All.Single(f => f.Name == ClientLbBalancerFactory.P2c)),
        };
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddClientLbGrpc();
        services.AddSingleton<ResolverFactory>(_backends.StaticResolver());
        foreach (CapturingFactory factory in capturing)
        {
            services.AddSingleton<LoadBalancerFactory>(factory);
        }
        _provider = services.BuildServiceProvider();
        _grpcDotnetRoundRobin = await ReadyPickerAsync("static:///bench", capturing[0]);
        _clientLbRoundRobin = await ReadyPickerAsync("clientlb:///bench-grpc", capturing[1]);
        _clientLbP2c = await ReadyPickerAsync("clientlb:///bench-grpc", capturing[2]);
    }

    // The picker the balancer published once all three subchannels are ready.
    private async Task<SubchannelPicker> ReadyPickerAsync(string address, CapturingFactory factory)
    {
        GrpcChannel channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            ServiceProvider = _provider,
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new LoadBalancingConfig(factory.Name) } },
        });
        _channels.Add(channel);
        await channel.ConnectAsync();
        for (int i = 0; i < 100; i++)
        {
            if (factory.Ready is SubchannelPicker picker && Enumerable.Range(0, 30).Select(_ => picker.Pick(_context).Subchannel).Distinct().Count() == 3)
            {
                return picker;
            }
            await Task.Delay(50);
        }
        throw new InvalidOperationException($"The {factory.Name} balancer of {address} never had three ready subchannels.");
    }

    [Benchmark(Baseline = true), BenchmarkCategory(OneThread)]
    public PickResult GrpcDotnetRoundRobin() => _grpcDotnetRoundRobin.Pick(_context);

    [Benchmark, BenchmarkCategory(OneThread)]
    public PickResult ClientLbRoundRobin() => _clientLbRoundRobin.Pick(_context);

    [Benchmark, BenchmarkCategory(OneThread)]
    public PickResult ClientLbP2c() => _clientLbP2c.Pick(_context);

    // The time per pick on each thread while the other picks too. A picker whose state the cores share (a round-robin
    // counter) pays for it here; two busy threads are each somewhat slower on this machine anyway.
    [Benchmark(Baseline = true, OperationsPerInvoke = PicksPerThread), BenchmarkCategory(TwoThreads)]
    public void GrpcDotnetRoundRobinOnTwoThreads() => OnTwoThreads(_grpcDotnetRoundRobin);

    [Benchmark(OperationsPerInvoke = PicksPerThread), BenchmarkCategory(TwoThreads)]
    public void ClientLbRoundRobinOnTwoThreads() => OnTwoThreads(_clientLbRoundRobin);

    [Benchmark(OperationsPerInvoke = PicksPerThread), BenchmarkCategory(TwoThreads)]
    public void ClientLbP2cOnTwoThreads() => OnTwoThreads(_clientLbP2c);

    private void OnTwoThreads(SubchannelPicker picker) => _twoThreads.Run(() =>
    {
        for (int i = 0; i < PicksPerThread; i++)
        {
            picker.Pick(_context);
        }
    });

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task CleanupAsync()
    {
        foreach (GrpcChannel channel in _channels)
        {
            channel.Dispose();
        }
        await _provider.DisposeAsync();
        await _backends.DisposeAsync();
        _twoThreads.Dispose();
    }

    // Wraps a balancer factory to keep the last picker its balancer published in the Ready state.
    private sealed class CapturingFactory(string name, LoadBalancerFactory inner) : LoadBalancerFactory
    {
        public SubchannelPicker? Ready { get; private set; }

        public override string Name => name;

        public override LoadBalancer Create(LoadBalancerOptions options) =>
            inner.Create(new LoadBalancerOptions(new CapturingHelper(options.Controller, this), options.LoggerFactory, options.Configuration));

        private sealed class CapturingHelper(IChannelControlHelper controller, CapturingFactory owner) : IChannelControlHelper
        {
            public Subchannel CreateSubchannel(SubchannelOptions options) => controller.CreateSubchannel(options);

            public void UpdateState(BalancerState state)
            {
                if (state.ConnectivityState == ConnectivityState.Ready)
                {
                    owner.Ready = state.Picker;
                }
                controller.UpdateState(state);
            }

            public void RefreshResolver() => controller.RefreshResolver();
        }
    }
}
