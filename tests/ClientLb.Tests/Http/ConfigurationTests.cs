using ClientLb.Balancing;
using ClientLb.Configuration;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ClientLb.Tests.Http;

public sealed class ConfigurationTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            _backends.Add(await TestBackend.StartAsync(((char)('a' + i)).ToString(), $"127.0.3.{i + 2}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (TestBackend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    private static async Task<HashSet<string>> BackendsSeen(HttpClient client, int requests)
    {
        var seen = new HashSet<string>();
        for (int i = 0; i < requests; i++)
        {
            seen.Add((await client.GetStringAsync("/")).Split('|')[0]);
        }
        return seen;
    }

    [Fact]
    public async Task A_reload_adds_and_removes_endpoints()
    {
        await using var host = new ClientLbTestHost(ClientLbTestHost.Endpoints("payments", _backends[0].Authority));
        HttpClient client = host.CreateClient("http://payments");
        Assert.Equal(["a"], await BackendsSeen(client, 6));

        host.Configuration.Replace(ClientLbTestHost.Endpoints("payments", _backends[0].Authority, _backends[1].Authority, _backends[2].Authority));
        Assert.Equal(["a", "b", "c"], await BackendsSeen(client, 6));

        host.Configuration.Replace(ClientLbTestHost.Endpoints("payments", _backends[2].Authority));
        Assert.Equal(["c"], await BackendsSeen(client, 6));
        Assert.Equal(3, host.Registry.GetBalancer("payments").Source.Current!.Version);
    }

    [Fact]
    public async Task A_bad_reload_keeps_the_last_good_endpoints_and_reports_the_value()
    {
        await using var host = new ClientLbTestHost(ClientLbTestHost.Endpoints("payments", _backends[0].Authority));
        HttpClient client = host.CreateClient("http://payments");
        Assert.Equal(["a"], await BackendsSeen(client, 2));

        host.Configuration.Replace(ClientLbTestHost.Endpoints("payments", _backends[1].Authority, "127.0.3.9:http"));
        Assert.Equal(["a"], await BackendsSeen(client, 4));
        SourceStatus status = host.Registry.GetBalancer("payments").Source.Status;
        Assert.False(status.IsHealthy);
        Assert.Equal("Invalid configuration at 'ClientLb:Services:payments:Endpoints:1' ('127.0.3.9:http'): the port 'http' is not a number.", status.LastError!.Message);
    }

    [Fact]
    public async Task A_bad_endpoint_at_startup_fails_fast_naming_the_path()
    {
        await using var host = new ClientLbTestHost(ClientLbTestHost.Endpoints("payments", "127.0.0.2"));
        HttpClient client = host.CreateClient("http://payments");
        NoEndpointsException error = await Assert.ThrowsAsync<NoEndpointsException>(() => client.GetStringAsync("/"));
        Assert.Contains("'payments.default'", error.Message);
        Assert.Contains("ClientLb:Services:payments:Endpoints:0", error.Message);
        Assert.Contains("port is missing", error.Message);
    }

    [Fact]
    public async Task Unknown_policy_and_bad_service_names_are_rejected_by_name()
    {
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("payments", _backends[0].Authority);
        config["ClientLb:Services:payments:Policy"] = "Fastest";
        config["ClientLb:Services:Bad_Name:Endpoints:0"] = _backends[0].Authority;
        await using var host = new ClientLbTestHost(config);
        OptionsValidationException error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptionsMonitor<ClientLbOptions>>().CurrentValue);
        Assert.Contains("ClientLb:Services:payments:Policy ('Fastest'): unknown policy; known: Auto, Hash, PeakEwma, PowerOfTwoChoices, Random, RoundRobin, Sticky, Weighted", error.Message);
        Assert.Contains("ClientLb:Services:Bad_Name", error.Message);
    }

    [Fact]
    public async Task An_unknown_service_names_the_sources_asked()
    {
        await using var host = new ClientLbTestHost(ClientLbTestHost.Endpoints("payments", _backends[0].Authority));
        HttpClient client = host.CreateClient("http://orders.shop");
        ServiceNotFoundException error = await Assert.ThrowsAsync<ServiceNotFoundException>(() => client.GetStringAsync("/"));
        Assert.Contains("'orders.shop'", error.Message);
        Assert.Contains("asked: config", error.Message);
    }

    [Fact]
    public async Task The_service_discovery_configuration_shape_works_unchanged()
    {
        var config = new Dictionary<string, string?>
        {
            ["Services:catalog:http:0"] = _backends[0].Authority,
            ["Services:catalog:http:1"] = _backends[1].Authority,
            ["Services:catalog:https:0"] = "127.0.3.9:443",
            ["Services:catalog:dashboard"] = _backends[2].Authority,
        };
        await using var host = new ClientLbTestHost(config);
        Assert.Equal(["a", "b"], await BackendsSeen(host.CreateClient("http://catalog"), 4));
        Assert.Equal(["c"], await BackendsSeen(host.CreateClient("http://_dashboard.catalog"), 2));
    }

    // Issue 15, defect 6: the SRV name as DNS writes it is a service name in configuration and in URLs too.
    [Fact]
    public async Task The_SRV_form_of_a_name_selects_the_same_named_port()
    {
        var config = new Dictionary<string, string?>
        {
            ["Services:catalog:http:0"] = _backends[0].Authority,
            ["Services:catalog:dashboard"] = _backends[2].Authority,
        };
        await using var host = new ClientLbTestHost(config);
        Assert.Equal(["c"], await BackendsSeen(host.CreateClient("http://_dashboard._tcp.catalog.default.svc.cluster.local"), 2));
        Assert.Same(host.Registry.GetBalancer("http://_dashboard.catalog"), host.Registry.GetBalancer("http://_dashboard._tcp.catalog.default"));
    }

    [Fact]
    public async Task Every_client_and_scheme_of_a_service_shares_one_source()
    {
        var config = new Dictionary<string, string?>
        {
            ["Services:catalog:http:0"] = _backends[0].Authority,
            ["Services:catalog:https:0"] = "127.0.3.9:443",
        };
        await using var host = new ClientLbTestHost(config);
        Assert.Equal(["a"], await BackendsSeen(host.CreateClient("http://catalog"), 2));
        Assert.Equal(["a"], await BackendsSeen(host.CreateClient("http://catalog.default.svc.cluster.local"), 2));
        ServiceBalancer plain = host.Registry.GetBalancer("http://catalog");
        ServiceBalancer preferHttps = host.Registry.GetBalancer("https+http://catalog");
        Assert.Same(plain.Source, preferHttps.Source);
        Assert.Same(plain, host.Registry.GetBalancer("http://catalog.default"));
        // https is preferred and present: only the https endpoint is eligible for https+http.
        Assert.Equal(["127.0.3.9:443"], preferHttps.Picker.Endpoints.Select(e => e.Endpoint.Authority));
    }

    [Fact]
    public async Task A_service_with_no_ready_endpoint_fails_at_once_saying_why()
    {
        var factory = new TestSourceFactory();
        TestSource source = factory.Add("payments");
        var notReady = new ClientLb.Endpoints.EndpointConditions(false, false, false);
        source.Set([.. _backends.Select(b => ClientLb.Endpoints.Endpoint.Parse(b.Authority).WithConditions(notReady))]);
        await using var host = new ClientLbTestHost(new Dictionary<string, string?>(), services => services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory));
        HttpClient client = host.CreateClient("http://payments");
        NoEndpointsException error = await Assert.ThrowsAsync<NoEndpointsException>(() => client.GetStringAsync("/"));
        Assert.Equal("Service 'payments.default' (source test source): no ready endpoints; 3 not ready.", error.Message);

        // Readiness comes back: the next request goes through without any restart.
        source.Set([.. _backends.Select(b => ClientLb.Endpoints.Endpoint.Parse(b.Authority))]);
        Assert.Contains((await client.GetStringAsync("/")).Split('|')[0], new[] { "a", "b", "c" });
    }
}
