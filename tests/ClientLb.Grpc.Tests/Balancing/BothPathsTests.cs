using ClientLb.Grpc.Tests.Infrastructure;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>
/// The same checks on both paths (the HttpHandler path, and the clientlb:/// resolver with the clientlb_* balancers):
/// spread over Grpc.AspNetCore servers, and a backend killed (SIGKILL) or stopped (SIGTERM) under load.
/// </summary>
public sealed class BothPathsTests
{
    private static int _nextBlock = 180;

    public enum Path
    {
        Handler,
        Resolver,
    }

    private static string Block() => $"127.0.{Interlocked.Increment(ref _nextBlock)}";

    private sealed class Client(ServiceProvider services, GrpcChannel channel) : IAsyncDisposable
    {
        public Greeter.GreeterClient Greeter { get; } = new(channel);

        public async ValueTask DisposeAsync()
        {
            channel.Dispose();
            await services.DisposeAsync();
        }
    }

    // Round-robin over `endpoints` on `path`; SayHello is idempotent (the handler's option, or the channel's retry policy).
    private static Client Create(Path path, IEnumerable<string> endpoints)
    {
        var values = new Dictionary<string, string?>
        {
            ["ClientLb:Services:greeter:Policy"] = "RoundRobin",
            ["ClientLb:Grpc:IdempotentMethods:0"] = "greet.Greeter/SayHello",
            ["ClientLb:Grpc:UnaryMethods:0"] = "greet.Greeter/SayHello",
        };
        int i = 0;
        foreach (string endpoint in endpoints)
        {
            values[$"ClientLb:Services:greeter:Endpoints:{i++}"] = endpoint;
        }
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        collection.AddClientLbGrpc();
        ServiceProvider services = collection.BuildServiceProvider();
        GrpcChannel channel = path == Path.Handler
            ? GrpcChannel.ForAddress("http://greeter", new GrpcChannelOptions { HttpHandler = ClientLbGrpc.CreateHandler(services) })
            : GrpcChannel.ForAddress("clientlb:///greeter", new GrpcChannelOptions
            {
                ServiceProvider = services,
                // Reads SayHello's answer ahead (UnaryMethods): grpc-dotnet never retries a call whose headers arrived, and a
                // killed backend may have sent the headers and message but not the trailers.
                HttpHandler = ClientLbGrpc.CreateResolverHandler(services),
                Credentials = ChannelCredentials.Insecure,
                ServiceConfig = SayHelloRetry.RoundRobin(),
            });
        return new Client(services, channel);
    }

    [Theory]
    [InlineData(Path.Handler)]
    [InlineData(Path.Resolver)]
    public async Task Calls_spread_100_per_backend_over_three_Grpc_AspNetCore_servers(Path path)
    {
        string block = Block();
        KestrelGreeter[] servers = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => KestrelGreeter.StartAsync($"k{i}", $"{block}.{i + 1}")));
        try
        {
            await using Client client = Create(path, servers.Select(s => s.Authority));
            await GreeterCalls.WaitForAllAsync(client.Greeter, 3);

            var counts = new Dictionary<string, int>();
            for (int i = 0; i < 300; i++)
            {
                string server = (await client.Greeter.SayHelloAsync(new HelloRequest())).Server;
                counts[server] = counts.GetValueOrDefault(server) + 1;
            }

            Assert.Equal(3, counts.Count);
            Assert.All(counts.Values, c => Assert.InRange(c, 90, 110));
        }
        finally
        {
            foreach (KestrelGreeter server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData(Path.Handler, false)]
    [InlineData(Path.Handler, true)]
    [InlineData(Path.Resolver, false)]
    [InlineData(Path.Resolver, true)]
    public async Task A_backend_killed_or_terminated_under_load_loses_no_idempotent_call(Path path, bool sigkill)
    {
        string block = Block();
        GrpcJsPeer[] peers = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => GrpcJsPeer.StartAsync($"b{i}", $"{block}.{i + 1}")));
        try
        {
            await using Client client = Create(path, peers.Select(p => p.Authority));
            await GreeterCalls.WaitForAllAsync(client.Greeter, 3);
            // b2 goes at the 100th call, with calls in flight; no call past the 150th starts before it is gone, so it goes
            // mid-run however slowly the signal takes effect (on a loaded machine b2 once answered 99 calls, its whole share).
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            async Task StopAsync()
            {
                try
                {
                    await (sigkill ? peers[1].KillAsync() : peers[1].TerminateAsync());
                    stopped.SetResult();
                }
                catch (Exception ex)
                {
                    stopped.SetException(ex);
                }
            }
            var failures = new List<string>();
            var counts = new Dictionary<string, int>();
            int next = 0;

            await Task.WhenAll(Enumerable.Range(0, 8).Select(async caller =>
            {
                while (Interlocked.Increment(ref next) is int n && n <= 300)
                {
                    if (n == 100)
                    {
                        _ = StopAsync();
                    }
                    if (n >= 150)
                    {
                        await stopped.Task;
                    }
                    try
                    {
                        string server = (await client.Greeter.SayHelloAsync(new HelloRequest { Name = $"{n}" }, deadline: DateTime.UtcNow.AddSeconds(5))).Server;
                        lock (counts)
                        {
                            counts[server] = counts.GetValueOrDefault(server) + 1;
                        }
                    }
                    catch (RpcException ex)
                    {
                        lock (failures)
                        {
                            failures.Add($"call {n}: {ex.Status}");
                        }
                    }
                }
            }));
            await stopped.Task;

            Assert.True(failures.Count == 0, string.Join("\n", failures));
            Assert.Equal(300, counts.Values.Sum());
            Assert.True(counts.GetValueOrDefault("b1") > 100 && counts.GetValueOrDefault("b3") > 100, string.Join(", ", counts));
        }
        finally
        {
            foreach (GrpcJsPeer peer in peers)
            {
                await peer.DisposeAsync();
            }
        }
    }
}
