using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Samples.Demo;

/// <summary>Three Kestrel backends on 127.0.0.2-4 from configuration; one stops half-way.</summary>
internal sealed class StaticScenario : IScenario
{
    private readonly Backend[] _backends;
    private readonly ServiceProvider _provider;

    private StaticScenario(Backend[] backends, ServiceProvider provider, HttpClient client)
    {
        _backends = backends;
        _provider = provider;
        Client = client;
        Events = [(0.5, $"stop {backends[1].Name}", backends[1].StopAsync)];
    }

    public static async Task<StaticScenario> StartAsync()
    {
        Backend[] backends =
        [
            await Backend.StartAsync("pod-a", "127.0.0.2"),
            await Backend.StartAsync("pod-b", "127.0.0.3"),
            await Backend.StartAsync("pod-c", "127.0.0.4"),
        ];
        // The app's configuration names the service and its endpoints; ClientLb reads it.
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(
            backends.Select((b, i) => new KeyValuePair<string, string?>($"ClientLb:Services:payments:Endpoints:{i}", b.Authority))).Build();
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payments")).AddClientLb();
        ServiceProvider provider = services.BuildServiceProvider();
        return new StaticScenario(backends, provider, provider.GetRequiredService<IHttpClientFactory>().CreateClient("payments"));
    }

    public string Description => $"http://payments from configuration over {string.Join(", ", _backends.Select(b => $"{b.Name} ({b.Authority})"))}";

    public HttpClient Client { get; }

    public IReadOnlyList<(double At, string What, Func<Task> Do)> Events { get; }

    public string Label(string backend) => _backends.Any(b => b.Name == backend && b.Stopped) ? backend + " (stopped)" : backend;

    public async ValueTask DisposeAsync()
    {
        await _provider.DisposeAsync();
        foreach (Backend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }
}
