using Greet;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// The HttpHandler path as a user builds it: a container with ClientLb gRPC and the service <c>greeter</c> listed in
/// configuration, and a Grpc.Net.Client channel to <c>http://greeter</c> whose HttpHandler is ClientLb's.
/// </summary>
public sealed class HandlerChannel : IAsyncDisposable
{
    private HandlerChannel(ServiceProvider provider, GrpcChannel channel)
    {
        Provider = provider;
        Channel = channel;
        Client = new Greeter.GreeterClient(channel);
    }

    public ServiceProvider Provider { get; }

    public GrpcChannel Channel { get; }

    public Greeter.GreeterClient Client { get; }

    /// <summary>The channel to <paramref name="address"/>; <paramref name="services"/> may register more (a clock) before ClientLb's.</summary>
    public static HandlerChannel Create(IEnumerable<string> endpoints, IDictionary<string, string?>? settings = null, string address = "http://greeter",
        Action<IServiceCollection>? services = null)
    {
        var values = new Dictionary<string, string?> { ["ClientLb:Services:greeter:Policy"] = "RoundRobin" };
        int i = 0;
        foreach (string endpoint in endpoints)
        {
            values[$"ClientLb:Services:greeter:Endpoints:{i++}"] = endpoint;
        }
        foreach ((string key, string? value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        services?.Invoke(collection);
        collection.AddClientLbGrpc();
        ServiceProvider provider = collection.BuildServiceProvider();
        GrpcChannel channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = ClientLbGrpc.CreateHandler(provider) });
        return new HandlerChannel(provider, channel);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Provider.DisposeAsync();
    }
}
