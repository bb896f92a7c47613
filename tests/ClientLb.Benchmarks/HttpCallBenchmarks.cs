using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// One GET to loopback Kestrel: directly to a fixed endpoint (baseline: a plain HttpClient over SocketsHttpHandler)
/// versus through a ClientLb HttpClient balancing over three identical backends.
/// </summary>
[MemoryDiagnoser]
public class HttpCallBenchmarks
{
    private readonly List<WebApplication> _servers = [];
    private HttpClient _direct = null!;
    private HttpClient _balanced = null!;
    private HttpClient _balancedSame = null!;
    private HttpClient _directFactory = null!;
    private HttpClient _balancedFactory = null!;
    private ServiceProvider _provider = null!;

    [Params("1.1", "2.0")]
    public string Http { get; set; } = "1.1";

    [GlobalSetup]
    public async Task Setup()
    {
        var authorities = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            authorities.Add(await StartServerAsync($"127.0.5.{i + 2}"));
        }
        Version version = Version.Parse(Http);
        _direct = new HttpClient(new SocketsHttpHandler()) { BaseAddress = new Uri("http://" + authorities[0]) };
        ConfigureVersion(_direct, version);

        // "bench" spreads over the three backends; "same" is ClientLb over only the direct call's backend, which
        // isolates the handler's own cost from the effect of talking to three servers on two cores.
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(
            authorities.Select((a, i) => new KeyValuePair<string, string?>($"ClientLb:Services:bench:Endpoints:{i}", a))
                .Append(new KeyValuePair<string, string?>("ClientLb:Services:same:Endpoints:0", authorities[0]))).Build();
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddHttpClient("bench", c => { c.BaseAddress = new Uri("http://bench"); ConfigureVersion(c, version); }).AddClientLb();
        services.AddHttpClient("fixed", c => { c.BaseAddress = new Uri("http://" + authorities[0]); ConfigureVersion(c, version); });
        _provider = services.BuildServiceProvider();
        _balancedFactory = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("bench");
        _directFactory = _provider.GetRequiredService<IHttpClientFactory>().CreateClient("fixed");
        _balanced = new HttpClient(new Http.ClientLbHttpHandler(_provider.GetRequiredService<ClientLb.Registry.ServiceRegistry>())) { BaseAddress = new Uri("http://bench") };
        ConfigureVersion(_balanced, version);
        _balancedSame = new HttpClient(new Http.ClientLbHttpHandler(_provider.GetRequiredService<ClientLb.Registry.ServiceRegistry>())) { BaseAddress = new Uri("http://same") };
        ConfigureVersion(_balancedSame, version);

        // Warm every connection.
        for (int i = 0; i < 30; i++)
        {
            await Direct();
            await Balanced();
            await BalancedSameBackend();
            await DirectViaFactory();
            await BalancedViaFactory();
        }
    }

    private static void ConfigureVersion(HttpClient client, Version version)
    {
        client.DefaultRequestVersion = version;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
    }

    private async Task<string> StartServerAsync(string address)
    {
        (WebApplication app, string authority) = await LoopbackKestrel.StartAsync(address, Http == "2.0" ? HttpProtocols.Http2 : HttpProtocols.Http1);
        _servers.Add(app);
        return authority;
    }

    [Benchmark(Baseline = true)]
    public async Task<int> Direct()
    {
        using HttpResponseMessage response = await _direct.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        return (int)response.StatusCode;
    }

    [Benchmark]
    public async Task<int> Balanced()
    {
        using HttpResponseMessage response = await _balanced.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        return (int)response.StatusCode;
    }

    [Benchmark]
    public async Task<int> BalancedSameBackend()
    {
        using HttpResponseMessage response = await _balancedSame.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        return (int)response.StatusCode;
    }

    [Benchmark]
    public async Task<int> DirectViaFactory()
    {
        using HttpResponseMessage response = await _directFactory.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        return (int)response.StatusCode;
    }

    [Benchmark]
    public async Task<int> BalancedViaFactory()
    {
        using HttpResponseMessage response = await _balancedFactory.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        return (int)response.StatusCode;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _direct.Dispose();
        _balanced.Dispose();
        _balancedSame.Dispose();
        await _provider.DisposeAsync();
        foreach (WebApplication app in _servers)
        {
            await app.DisposeAsync();
        }
    }
}
