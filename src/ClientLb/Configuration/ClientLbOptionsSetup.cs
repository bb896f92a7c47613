using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ClientLb.Configuration;

/// <summary>
/// Fills <see cref="ClientLbOptions"/> from the environment's locality variables (<see cref="NodeNameVariables"/>,
/// <see cref="ZoneVariables"/>), then from the app's configuration, when it has one: the <c>ClientLb</c> section,
/// and the <c>Services</c> section in the shape Microsoft.Extensions.ServiceDiscovery reads, so apps configured
/// for it work unchanged. Runs before any code-based configure action, so configuration and code win over the environment.
/// </summary>
internal sealed class ClientLbOptionsSetup(IConfiguration? configuration = null, Func<string, string?>? environment = null) : IConfigureOptions<ClientLbOptions>
{
    /// <summary>The root section of Microsoft.Extensions.ServiceDiscovery's configuration provider.</summary>
    public const string ServiceDiscoverySectionName = "Services";

    /// <summary>Where the node name comes from when nothing configures it, first set wins: the downward API's <c>spec.nodeName</c> as usually named.</summary>
    public static readonly string[] NodeNameVariables = ["NODE_NAME", "KUBERNETES_NODE_NAME"];

    /// <summary>Where the zone comes from when nothing configures it, first set wins: the node's <c>topology.kubernetes.io/zone</c> label, passed in by the deployment.</summary>
    public static readonly string[] ZoneVariables = ["NODE_ZONE", "TOPOLOGY_ZONE"];

    public void Configure(ClientLbOptions options)
    {
        Func<string, string?> variable = environment ?? Environment.GetEnvironmentVariable;
        options.Locality.NodeName ??= FirstSet(variable, NodeNameVariables);
        options.Locality.Zone ??= FirstSet(variable, ZoneVariables);
        if (configuration is null)
        {
            return;
        }

        foreach (IConfigurationSection service in configuration.GetSection(ServiceDiscoverySectionName).GetChildren())
        {
            ServiceOptions entry = GetOrAdd(options, service.Key);
            foreach (IConfigurationSection endpointName in service.GetChildren())
            {
                entry.NamedEndpoints[endpointName.Key] = ReadValues(endpointName);
            }
        }

        IConfigurationSection section = configuration.GetSection(ClientLbOptions.SectionName);
        section.Bind(options);
    }

    private static string? FirstSet(Func<string, string?> variable, string[] names) =>
        names.Select(variable).FirstOrDefault(static value => !string.IsNullOrWhiteSpace(value))?.Trim();

    private static ServiceOptions GetOrAdd(ClientLbOptions options, string name)
    {
        if (!options.Services.TryGetValue(name, out ServiceOptions? entry))
        {
            options.Services[name] = entry = new ServiceOptions();
        }
        return entry;
    }

    // A single value ("Services:x:https": "host:1") or an array ("Services:x:https:0").
    private static List<string> ReadValues(IConfigurationSection section)
    {
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            return [section.Value];
        }
        var values = new List<string>();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!int.TryParse(child.Key, out _))
            {
                throw new ClientLbConfigurationException(child.Path, child.Value, "endpoint lists must be arrays (numeric keys)");
            }
            values.Add(child.Value ?? "");
        }
        return values;
    }
}
