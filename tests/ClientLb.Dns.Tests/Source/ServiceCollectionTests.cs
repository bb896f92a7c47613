using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Source;
using ClientLb.Dns.Tests.Infrastructure;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ClientLb.Dns.Tests.Source;

public class ServiceCollectionTests
{
    [Fact]
    public async Task AddClientLbDns_registers_one_factory_that_resolves_through_the_configured_server()
    {
        await using Dnsmasq dns = await Dnsmasq.StartAsync(["--host-record=api.prod.svc.cluster.local,10.3.0.1"]);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddClientLbDns(o =>
        {
            o.Servers = [dns.Endpoint.ToString()];
            o.ResolvConfPath = null;
        });
        services.AddClientLbDns();
        await using ServiceProvider provider = services.BuildServiceProvider();

        // Called twice, still one DNS factory, and it comes after the configuration source (explicit config wins).
        IEndpointSourceFactory[] factories = [.. provider.GetServices<IEndpointSourceFactory>()];
        Assert.Equal(["config", "dns"], factories.Select(f => f.Kind));
        IEndpointSourceFactory factory = Assert.IsType<DnsEndpointSourceFactory>(factories[1]);
        Assert.IsType<DnsStubClient>(provider.GetRequiredService<IDnsClient>());
        await using IEndpointSource source = factory.TryCreate(ServiceName.Parse("http://api.prod:8080"))!;
        EndpointSnapshot snapshot = await source.GetSnapshotAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("10.3.0.1:8080", Assert.Single(snapshot.Endpoints).Authority);
    }

    [Fact]
    public void Invalid_options_fail_at_first_use_naming_the_option()
    {
        var services = new ServiceCollection();
        services.AddClientLbDns(o => o.MinRefreshInterval = TimeSpan.Zero);
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetServices<IEndpointSourceFactory>().ToList());
        Assert.Contains("DnsSourceOptions.MinRefreshInterval", ex.Message, StringComparison.Ordinal);
    }
}
