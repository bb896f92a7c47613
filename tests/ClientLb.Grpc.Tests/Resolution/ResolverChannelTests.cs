using ClientLb.Balancing;
using ClientLb.Grpc.Health;
using ClientLb.Grpc.Resolution;
using ClientLb.Grpc.Tests.Infrastructure;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Testing;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Grpc.Tests.Resolution;

/// <summary>
/// The resolver path: GrpcChannel.ForAddress("clientlb:///greeter", ...) with ClientLb's resolver and clientlb_* balancers,
/// against real @grpc/grpc-js servers. grpc-dotnet keeps its connectivity state and wait-for-ready.
/// </summary>
public sealed class ResolverChannelTests
{
    private static int _nextBlock = 160;

    private static string Block() => $"127.0.{Interlocked.Increment(ref _nextBlock)}";

    private static ServiceProvider Container(IEnumerable<string> endpoints, Action<IServiceCollection>? more = null, IDictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        int i = 0;
        foreach (string endpoint in endpoints)
        {
            values[$"ClientLb:Services:greeter:Endpoints:{i++}"] = endpoint;
        }
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        services.AddClientLbGrpc();
        more?.Invoke(services);
        return services.BuildServiceProvider();
    }

    private static GrpcChannel Channel(IServiceProvider services, string address = "clientlb:///greeter", string? policy = null) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            ServiceProvider = services,
            Credentials = ChannelCredentials.Insecure,
            ServiceConfig = policy is null ? null : new ServiceConfig { LoadBalancingConfigs = { new LoadBalancingConfig(policy) } },
        });

    // Runs `test` with `count` backends b1..bN, and a container whose ClientLb configuration lists them as `greeter`.
    private static async Task WithPeersAsync(int count, Func<ServiceProvider, Task> test, Action<IServiceCollection>? more = null)
    {
        string block = Block();
        GrpcJsPeer[] peers = await Task.WhenAll(Enumerable.Range(1, count).Select(i => GrpcJsPeer.StartAsync($"b{i}", $"{block}.{i + 1}")));
        try
        {
            await using ServiceProvider services = Container(peers.Select(p => p.Authority), more);
            await test(services);
        }
        finally
        {
            foreach (GrpcJsPeer peer in peers)
            {
                await peer.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Round_robin_spreads_300_calls_100_per_backend_and_a_stream_stays_on_its_backend()
    {
        await WithPeersAsync(3, async services =>
        {
            using GrpcChannel channel = Channel(services, policy: "clientlb_round_robin");
            var client = new Greeter.GreeterClient(channel);
            // Wait until every subchannel is ready, so the rounds are over all three.
            await GreeterCalls.WaitForAllAsync(client, 3);

            var counts = new Dictionary<string, int>();
            for (int i = 0; i < 300; i++)
            {
                string server = (await client.SayHelloAsync(new HelloRequest { Name = $"{i}" })).Server;
                counts[server] = counts.GetValueOrDefault(server) + 1;
            }

            Assert.Equal(3, counts.Count);
            Assert.All(counts.Values, c => Assert.InRange(c, 90, 110));

            using AsyncServerStreamingCall<HelloReply> stream = client.StreamHellos(new HelloStreamRequest { Name = "s", Count = 10, IntervalMs = 5 });
            var servers = new HashSet<string>();
            await foreach (HelloReply reply in stream.ResponseStream.ReadAllAsync())
            {
                servers.Add(reply.Server);
            }
            Assert.Single(servers);
        });
    }

    [Fact]
    public async Task The_default_policy_is_clientlb_p2c_and_reaches_every_backend()
    {
        await WithPeersAsync(3, async services =>
        {
            using GrpcChannel channel = Channel(services);
            await GreeterCalls.WaitForAllAsync(new Greeter.GreeterClient(channel), 3);
        });
    }

    [Fact]
    public async Task Channel_state_goes_Idle_Connecting_Ready()
    {
        await WithPeersAsync(1, async services =>
        {
            // State is read after each wake-up, so a fast loopback connect can go Connecting -> Ready before the read:
            // every channel must go Idle -> (Connecting) -> Ready and nowhere else, and Connecting must be seen on one
            // of up to five fresh channels.
            var seen = new List<string>();
            for (int attempt = 0; attempt < 5 && !seen.Any(s => s.Contains(nameof(ConnectivityState.Connecting))); attempt++)
            {
                using GrpcChannel channel = Channel(services);
                var states = new List<ConnectivityState> { channel.State };
                Task connect = channel.ConnectAsync();
                while (states[^1] != ConnectivityState.Ready)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await channel.WaitForStateChangedAsync(states[^1], timeout.Token);
                    states.Add(channel.State);
                }
                await connect;
                seen.Add(string.Join(" -> ", states));

                Assert.Equal(ConnectivityState.Idle, states[0]);
                Assert.Equal(ConnectivityState.Ready, states[^1]);
                Assert.All(states, s => Assert.Contains(s, new[] { ConnectivityState.Idle, ConnectivityState.Connecting, ConnectivityState.Ready }));
            }
            Assert.True(seen.Any(s => s.Contains(nameof(ConnectivityState.Connecting))), "Connecting was never seen: " + string.Join("; ", seen));
        });
    }

    [Fact]
    public async Task A_wait_for_ready_call_succeeds_when_the_endpoint_starts_a_second_later()
    {
        string address = $"{Block()}.2";
        GrpcJsPeer first = await GrpcJsPeer.StartAsync("late", address);
        string authority = first.Authority;
        await first.DisposeAsync();
        await using ServiceProvider services = Container([authority]);
        using GrpcChannel channel = Channel(services);
        var client = new Greeter.GreeterClient(channel);

        AsyncUnaryCall<HelloReply> call = client.SayHelloAsync(new HelloRequest(), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(15)).WithWaitForReady());
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(call.ResponseAsync.IsCompleted);
        await using GrpcJsPeer late = await GrpcJsPeer.StartAsync("late", address, "--port", authority.Split(':')[1]);

        Assert.Equal("late", (await call).Server);
    }

    [Theory]
    [InlineData("clientlb:///nosuchservice.nowhere", "nosuchservice.nowhere")]
    [InlineData("clientlb:///greeter:bad_port!", "bad_port!")]
    public async Task A_name_no_source_serves_or_that_is_malformed_fails_the_first_call_with_UNAVAILABLE_quoting_it(string address, string quoted)
    {
        await using ServiceProvider services = Container(["127.0.0.1:1"]);
        using GrpcChannel channel = Channel(services, address);
        var client = new Greeter.GreeterClient(channel);

        RpcException error = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains(quoted, error.Status.Detail);
    }

    [Fact]
    public async Task AddGrpcClient_with_a_clientlb_address_balances_through_ClientLb()
    {
        await WithPeersAsync(2,
            services => GreeterCalls.WaitForAllAsync(services.GetRequiredService<Greeter.GreeterClient>(), 2),
            s => s.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri("clientlb:///greeter"))
                .ConfigureChannel(o => o.Credentials = ChannelCredentials.Insecure));
    }

    [Fact]
    public async Task A_backend_restarted_on_its_address_gets_calls_again_within_2s()
    {
        string block = Block();
        await using GrpcJsPeer b1 = await GrpcJsPeer.StartAsync("b1", $"{block}.2");
        GrpcJsPeer b2 = await GrpcJsPeer.StartAsync("b2", $"{block}.3");
        string b2Authority = b2.Authority;
        await using ServiceProvider services = Container([b1.Authority, b2Authority]);
        // The user keeps grpc-dotnet's reconnect backoff; here it is capped at 1 s.
        using GrpcChannel channel = GrpcChannel.ForAddress("clientlb:///greeter", new GrpcChannelOptions
        {
            ServiceProvider = services,
            Credentials = ChannelCredentials.Insecure,
            MaxReconnectBackoff = TimeSpan.FromSeconds(1),
            ServiceConfig = new ServiceConfig
            {
                LoadBalancingConfigs = { new LoadBalancingConfig("clientlb_round_robin") },
                // Until grpc-dotnet sees that b2's connection is gone, a call can still go there and be refused: retried.
                MethodConfigs =
                {
                    new MethodConfig
                    {
                        Names = { MethodName.Default },
                        RetryPolicy = new RetryPolicy
                        {
                            MaxAttempts = 5, InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(500),
                            BackoffMultiplier = 2, RetryableStatusCodes = { StatusCode.Unavailable },
                        },
                    },
                },
            },
        });
        var client = new Greeter.GreeterClient(channel);
        await GreeterCalls.WaitForAllAsync(client, 2);

        await b2.KillAsync();
        await b2.DisposeAsync();
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("b1", (await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5))).Server);
        }

        await using GrpcJsPeer restarted = await GrpcJsPeer.StartAsync("b2", $"{block}.3", "--port", b2Authority.Split(':')[1]);
        bool reached = await GreeterCalls.ReachesWithinAsync(client, "b2", TimeSpan.FromSeconds(2));

        Assert.True(reached, "the restarted backend got no call within 2 s");
    }

    [Fact]
    public async Task An_unknown_policy_in_the_service_config_fails_at_channel_creation_naming_it_and_the_known_ones()
    {
        await using ServiceProvider services = Container(["127.0.0.1:1"]);

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => Channel(services, policy: "clientlb_p2"));

        Assert.Contains("'clientlb_p2'", error.Message);
        Assert.Contains("clientlb:///greeter", error.Message);
        foreach (string known in (string[])["pick_first", "round_robin", ClientLbBalancerFactory.RoundRobin, ClientLbBalancerFactory.P2c,
            ClientLbBalancerFactory.PeakEwma, ClientLbBalancerFactory.Hash, ClientLbBalancerFactory.Sticky])
        {
            Assert.Contains(known, error.Message);
        }
    }

    [Fact]
    public async Task A_port_name_the_service_lacks_fails_the_first_call_with_UNAVAILABLE_naming_service_and_port()
    {
        await using ServiceProvider services = Container([], settings: new Dictionary<string, string?> { ["Services:greeter:grpc:0"] = "127.0.0.1:1" });
        using GrpcChannel channel = Channel(services, "clientlb:///greeter:metrics");

        RpcException error = await Assert.ThrowsAsync<RpcException>(() =>
            new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("greeter", error.Status.Detail);
        Assert.Contains("'metrics'", error.Status.Detail);
    }

    [Fact]
    public async Task Active_health_checks_take_a_NOT_SERVING_Grpc_AspNetCore_server_out_of_a_clientlb_channel_and_bring_it_back()
    {
        string block = Block();
        KestrelGreeter[] servers = await Task.WhenAll(KestrelGreeter.StartAsync("k1", $"{block}.2"), KestrelGreeter.StartAsync("k2", $"{block}.3"));
        try
        {
            await using ServiceProvider services = Container(servers.Select(s => s.Authority), s => s.AddClientLbGrpc(o =>
                o.HealthChecks["greeter"] = new() { ServiceName = "greet.Greeter", Interval = TimeSpan.FromHours(1) }));
            using GrpcChannel channel = Channel(services, policy: ClientLbBalancerFactory.RoundRobin);
            var client = new Greeter.GreeterClient(channel);
            await GreeterCalls.WaitForAllAsync(client, 2);
            GrpcHealthMonitor monitor = services.GetRequiredService<GrpcHealthMonitor>();
            ServiceRegistry registry = services.GetRequiredService<ServiceRegistry>();
            ServiceBalancer balancer = Assert.Single(registry.Balancers);
            var changes = new List<GrpcHealthChangedEventArgs>();
            monitor.HealthChanged += (_, e) => changes.Add(e);

            servers[1].SetServing(false);
            await monitor.CheckNowAsync(balancer);

            GrpcHealthChangedEventArgs down = Assert.Single(changes);
            Assert.Equal(servers[1].Authority, down.Endpoint.Authority);
            Assert.Equal("NOT_SERVING", down.Reason);
            // Round robin over both would alternate: 20 calls in a row on k1 mean k2 is out of the channel.
            Assert.True(await GreeterCalls.OnlyReachesWithinAsync(client, "k1", 20, TimeSpan.FromSeconds(5)), "k2 still got calls while NOT_SERVING");

            servers[1].SetServing(true);
            await monitor.CheckNowAsync(balancer);
            Assert.True(await GreeterCalls.ReachesWithinAsync(client, "k2", TimeSpan.FromSeconds(5)), "k2 got no call after it served again");

            // Both NOT_SERVING: the panic threshold offers both rather than none, and calls still go out.
            servers[0].SetServing(false);
            servers[1].SetServing(false);
            await monitor.CheckNowAsync(balancer);
            Assert.All(balancer.KnownEndpoints, e => Assert.True(e.IsFailingHealthChecks));
            Assert.True(await GreeterCalls.ReachesWithinAsync(client, "k1", TimeSpan.FromSeconds(5)), "k1 got no call in panic");
            Assert.True(await GreeterCalls.ReachesWithinAsync(client, "k2", TimeSpan.FromSeconds(5)), "k2 got no call in panic");
        }
        finally
        {
            foreach (KestrelGreeter server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_endpoint_that_drops_SYNs_loses_no_call_with_a_2s_deadline()
    {
        // The subchannel to an address whose SYNs an nft rule drops never becomes ready; the policy picks among ready ones.
        using var blackhole = new BlackholeNamespace();
        string block = Block();
        await using GrpcJsPeer b1 = await GrpcJsPeer.StartAsync("b1", $"{block}.2");
        await using GrpcJsPeer b3 = await GrpcJsPeer.StartAsync("b3", $"{block}.4");
        await using ServiceProvider services = Container([b1.Authority, $"{blackhole.Address}:50051", b3.Authority]);
        using GrpcChannel channel = Channel(services, policy: ClientLbBalancerFactory.RoundRobin);
        var client = new Greeter.GreeterClient(channel);

        (List<string> failures, Dictionary<string, int> served) = await GreeterCalls.WithDeadlineAsync(client, 3, 30, TimeSpan.FromSeconds(2));

        Assert.Empty(failures);
        Assert.Equal(90, served.Values.Sum());
        Assert.Equal(["b1", "b3"], served.Keys.Order());
    }
}
