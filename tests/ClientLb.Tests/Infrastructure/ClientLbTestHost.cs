using ClientLb.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Tests.Infrastructure;

/// <summary>A DI container with configuration and one ClientLb HttpClient named "lb".</summary>
public sealed class ClientLbTestHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    public ClientLbTestHost(IDictionary<string, string?> config, Action<IServiceCollection>? configure = null, Action<ClientLbOptions>? options = null)
    {
        Configuration = new MutableConfigurationSource(config);
        IConfigurationRoot root = new ConfigurationBuilder().Add(Configuration).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(root);
        services.AddClientLb(options);
        configure?.Invoke(services);
        services.AddHttpClient("lb").AddClientLb();
        _provider = services.BuildServiceProvider();
    }

    public MutableConfigurationSource Configuration { get; }

    public IServiceProvider Services => _provider;

    public ServiceRegistry Registry => _provider.GetRequiredService<ServiceRegistry>();

    public HttpClient CreateClient(string baseAddress)
    {
        HttpClient client = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("lb");
        client.BaseAddress = new Uri(baseAddress);
        return client;
    }

    public static Dictionary<string, string?> Endpoints(string service, params string[] endpoints)
    {
        var config = new Dictionary<string, string?>();
        for (int i = 0; i < endpoints.Length; i++)
        {
            config[$"ClientLb:Services:{service}:Endpoints:{i}"] = endpoints[i];
        }
        return config;
    }

    public async ValueTask DisposeAsync() => await _provider.DisposeAsync();
}
