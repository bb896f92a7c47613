using ClientLb.Balancing;
using ClientLb.Endpoints;
using ClientLb.Http;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using ClientLb.Testing;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace ClientLb.Tests.Http;

/// <summary>Handlers lease the services they call and release them when disposed or when a service leaves their cache.</summary>
public sealed class HandlerLeaseTests : IAsyncLifetime
{
    private static readonly TimeSpan Hung = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(5);
    private readonly TrackingTimeProvider _time = new();
    private readonly TestSourceFactory _factory = new();
    private TestBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync("a", "127.0.9.2");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    // The default idle timeout (5 minutes) applies: no setting.
    private ClientLbTestHost Host(params string[] services)
    {
        foreach (string service in services)
        {
            _factory.Add(service).Set(new Endpoint(_backend.Address, _backend.Port));
        }
        return new ClientLbTestHost(new Dictionary<string, string?>(), s =>
        {
            s.AddSingleton<IEndpointSourceFactory>(_factory);
            s.AddSingleton<TimeProvider>(_time);
        });
    }

    // What HttpClientFactory does each time it creates a client's handler, first or after a rotation: run the
    // named client's builder actions, among them the primary handler AddClientLb() installs.
    private static HttpMessageHandler BuildHandler(IServiceProvider services, string name)
    {
        HttpMessageHandlerBuilder builder = services.GetRequiredService<HttpMessageHandlerBuilder>();
        builder.Name = name;
        foreach (Action<HttpMessageHandlerBuilder> configure in services.GetRequiredService<IOptionsMonitor<HttpClientFactoryOptions>>().Get(name).HttpMessageHandlerBuilderActions)
        {
            configure(builder);
        }
        return builder.Build();
    }

    private static async Task CallAsync(HttpMessageHandler handler, string service)
    {
        using var client = new HttpClient(handler, disposeHandler: false);
        string body = await client.GetStringAsync($"http://{service}/");
        Assert.StartsWith("a|", body);
    }

    [Fact]
    public async Task Disposing_an_HttpClient_built_with_AddClientLb_releases_its_leases()
    {
        await using ClientLbTestHost host = Host("orders");
        ServiceRegistry registry = host.Registry;
        HttpMessageHandler handler = BuildHandler(host.Services, "lb");
        Assert.IsType<ClientLbHttpHandler>(handler);
        using (var client = new HttpClient(handler))
        {
            Assert.StartsWith("a|", await client.GetStringAsync("http://orders/"));
        }
        ServiceBalancer balancer = Assert.Single(registry.Balancers);
        TestSource source = _factory["orders"];

        _time.Advance(Idle - TimeSpan.FromSeconds(1));
        Assert.False(balancer.Stopped.IsCancellationRequested);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(balancer.Stopped.IsCancellationRequested);
        Assert.Empty(registry.Balancers);
        await source.Disposed.WaitAsync(Hung);

        // A disposed handler takes no new lease.
        using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://orders/");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => invoker.SendAsync(request, CancellationToken.None));
        Assert.Empty(registry.Balancers);
    }

    [Fact]
    public async Task A_handler_still_in_use_keeps_its_services_however_long_they_are_idle()
    {
        await using ClientLbTestHost host = Host("orders");
        using HttpMessageHandler handler = BuildHandler(host.Services, "lb");
        await CallAsync(handler, "orders");
        ServiceBalancer balancer = Assert.Single(host.Registry.Balancers);

        _time.Advance(Idle * 10);

        Assert.False(balancer.Stopped.IsCancellationRequested);
        Assert.False(_factory["orders"].Disposed.IsCompleted);
        Assert.Equal(0, _time.ArmedTimers);
    }

    [Fact]
    public async Task A_rotated_handler_gets_the_same_balancer_with_its_endpoints_and_connections()
    {
        await using ClientLbTestHost host = Host("orders");
        ServiceRegistry registry = host.Registry;
        HttpMessageHandler expired = BuildHandler(host.Services, "lb");
        await CallAsync(expired, "orders");
        ServiceBalancer balancer = Assert.Single(registry.Balancers);
        BalancedEndpoint endpoint = balancer.KnownEndpoints.Single();

        // The factory disposes the expired handler; the app's next client gets a new one, used a while later.
        expired.Dispose();
        _time.Advance(Idle - TimeSpan.FromSeconds(1));
        using HttpMessageHandler rotated = BuildHandler(host.Services, "lb");
        await CallAsync(rotated, "orders");

        Assert.Same(balancer, Assert.Single(registry.Balancers));
        Assert.Same(endpoint, balancer.KnownEndpoints.Single());
        Assert.Equal(1, _factory.Created);
        _time.Advance(Idle * 2);
        Assert.False(balancer.Stopped.IsCancellationRequested);
        Assert.False(_factory["orders"].Disposed.IsCompleted);
    }

    [Fact]
    public async Task A_service_evicted_from_a_handler_cache_is_released_while_the_cached_ones_stay()
    {
        string[] services = [.. Enumerable.Range(0, 17).Select(i => $"svc{i}")];
        await using ClientLbTestHost host = Host(services);
        ServiceRegistry registry = host.Registry;
        using HttpMessageHandler handler = BuildHandler(host.Services, "lb");
        await CallAsync(handler, services[0]);
        ServiceBalancer oldest = Assert.Single(registry.Balancers);

        // The 17th service pushes the first out of the 16-entry cache, and its lease with it.
        foreach (string service in services[1..])
        {
            await CallAsync(handler, service);
        }
        Assert.Equal(1, _time.ArmedTimers);
        _time.Advance(Idle);

        Assert.True(oldest.Stopped.IsCancellationRequested);
        await _factory[services[0]].Disposed.WaitAsync(Hung);
        Assert.Equal(16, registry.Balancers.Count);
        Assert.All(registry.Balancers, b => Assert.False(b.Stopped.IsCancellationRequested));
    }
}
