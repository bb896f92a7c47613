using ClientLb.Configuration;
using Microsoft.Extensions.Configuration;

namespace ClientLb.Tests.Http;

/// <summary>Where this process runs: options and configuration, else the environment's usual variables.</summary>
public sealed class LocalityTests
{
    [Fact]
    public void Locality_falls_back_to_the_environment_and_configuration_wins()
    {
        var variables = new Dictionary<string, string?> { ["KUBERNETES_NODE_NAME"] = "node-k", ["TOPOLOGY_ZONE"] = " zone-t ", ["NODE_ZONE"] = "" };
        var fromEnvironment = new ClientLbOptions();
        new ClientLbOptionsSetup(null, variables.GetValueOrDefault).Configure(fromEnvironment);
        Assert.Equal(("node-k", "zone-t"), (fromEnvironment.Locality.NodeName, fromEnvironment.Locality.Zone));

        variables["NODE_NAME"] = "node-n";
        var first = new ClientLbOptions();
        new ClientLbOptionsSetup(null, variables.GetValueOrDefault).Configure(first);
        Assert.Equal("node-n", first.Locality.NodeName);

        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ClientLb:Locality:NodeName"] = "node-c" }).Build();
        var configured = new ClientLbOptions();
        new ClientLbOptionsSetup(configuration, variables.GetValueOrDefault).Configure(configured);
        Assert.Equal(("node-c", "zone-t"), (configured.Locality.NodeName, configured.Locality.Zone));

        var none = new ClientLbOptions();
        new ClientLbOptionsSetup(null, _ => null).Configure(none);
        Assert.Equal((null as string, null as string), (none.Locality.NodeName, none.Locality.Zone));
    }
}
