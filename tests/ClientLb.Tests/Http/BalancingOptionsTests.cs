using ClientLb.Balancing;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ClientLb.Tests.Http;

public sealed class BalancingOptionsTests
{
    [Fact]
    public async Task Every_bad_balancing_value_is_rejected_naming_its_configuration_path()
    {
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("payments", "127.0.0.2:80");
        string p = "ClientLb:Services:payments:";
        config[p + "PeakEwma:DecayTime"] = "00:00:00";
        config[p + "Affinity:Key"] = "Cookie";
        config[p + "Topology:MinHealthyShare"] = "1.5";
        config[p + "Health:ConsecutiveServerErrors"] = "-1";
        config[p + "Health:BaseEjectionTime"] = "00:01:00";
        config[p + "Health:MaxEjectionTime"] = "00:00:30";
        config[p + "Health:PanicThreshold"] = "-0.1";
        config[p + "RetryBudget:Ratio"] = "11";
        config[p + "RetryBudget:Window"] = "00:00:00.100";
        config[p + "Hedging:MaxHedgedAttempts"] = "0";
        config[p + "Topology:Enabled"] = "true";
        await using var host = new ClientLbTestHost(config);
        OptionsValidationException error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptionsMonitor<ClientLbOptions>>().CurrentValue);
        Assert.Contains(p + "PeakEwma:DecayTime (00:00:00): must be positive", error.Message);
        Assert.Contains(p + "Affinity:Name: required when Affinity:Key is Cookie", error.Message);
        Assert.Contains(p + "Topology:MinHealthyShare (1.5): must be a share from 0 to 1", error.Message);
        Assert.Contains(p + "Health:ConsecutiveServerErrors (-1)", error.Message);
        Assert.Contains(p + "Health:MaxEjectionTime (00:00:30): must be at least Health:BaseEjectionTime", error.Message);
        Assert.Contains(p + "Health:PanicThreshold (-0.1)", error.Message);
        Assert.Contains(p + "RetryBudget:Ratio (11)", error.Message);
        Assert.Contains(p + "RetryBudget:Window (00:00:00.1000000)", error.Message);
        Assert.Contains(p + "Hedging:MaxHedgedAttempts (0)", error.Message);
        Assert.Contains(p + "Topology:Enabled (True): needs ClientLb:Locality:NodeName or ClientLb:Locality:Zone", error.Message);
    }

    [Fact]
    public async Task A_bad_endpoint_attribute_names_the_entry()
    {
        var config = new Dictionary<string, string?> { ["ClientLb:Services:payments:Endpoints:0"] = "127.0.0.2:80;weight=0" };
        await using var host = new ClientLbTestHost(config);
        HttpClient client = host.CreateClient("http://payments");
        NoEndpointsException error = await Assert.ThrowsAsync<ClientLb.Balancing.NoEndpointsException>(() => client.GetAsync("/"));
        Assert.Contains("ClientLb:Services:payments:Endpoints:0", error.Message);
        Assert.Contains("the weight '0' is not a whole number of at least 1", error.Message);
    }

    [Fact]
    public async Task An_entry_without_endpoints_only_sets_the_policy_of_a_discovered_service()
    {
        var factory = new TestSourceFactory();
        TestSource source = factory.Add("discovered");
        var config = new Dictionary<string, string?> { ["ClientLb:Services:discovered:Policy"] = "Weighted" };
        await using var host = new ClientLbTestHost(config, services => services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory));
        source.Set(new ClientLb.Endpoints.Endpoint(System.Net.IPAddress.Parse("10.0.0.1"), 80, weight: 3), new ClientLb.Endpoints.Endpoint(System.Net.IPAddress.Parse("10.0.0.2"), 80));
        ClientLb.Balancing.ServiceBalancer balancer = host.Registry.GetBalancer("discovered");
        Assert.Same(source, balancer.Source);
        int heavy = Enumerable.Range(0, 400).Count(_ => balancer.Pick(new ClientLb.Balancing.PickContext(null)).Endpoint.Host == "10.0.0.1");
        Assert.Equal(300, heavy);
    }
}
