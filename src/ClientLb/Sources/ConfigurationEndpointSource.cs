using ClientLb.Configuration;
using ClientLb.Endpoints;
using ClientLb.Names;
using Microsoft.Extensions.Options;

namespace ClientLb.Sources;

/// <summary>
/// Static endpoints from <see cref="ClientLbOptions.Services"/>. Reloads when the options change
/// (<see cref="IOptionsMonitor{TOptions}"/>); a reload with an invalid value is rejected whole and the
/// last good endpoints stay in service.
/// </summary>
internal sealed class ConfigurationEndpointSource : EndpointSource
{
    public const string SourceKind = "config";
    private readonly IOptionsMonitor<ClientLbOptions> _options;
    private readonly ServiceNameDefaults _defaults;
    private IDisposable? _onChange;

    public ConfigurationEndpointSource(ServiceName service, string configKey, IOptionsMonitor<ClientLbOptions> options, ServiceNameDefaults defaults, TimeProvider timeProvider)
        : base(service, SourceKind, $"config {ClientLbOptions.SectionName}:Services:{configKey}", timeProvider)
    {
        _options = options;
        _defaults = defaults;
    }

    protected override void OnStart()
    {
        _onChange = _options.OnChange(_ => Load());
        Load();
    }

    private void Load()
    {
        ClientLbOptions options;
        try
        {
            options = _options.CurrentValue;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException or ClientLbConfigurationException)
        {
            ReportFailure(ex);
            return;
        }

        if (!ConfigurationSourceFactory.TryFind(options, Service, _defaults, out string? key, out ServiceOptions? entry))
        {
            // The service was removed from configuration: it now has no endpoints (requests fail fast saying so).
            Publish([]);
            return;
        }
        try
        {
            Publish(ReadEndpoints(key, entry));
        }
        catch (ClientLbConfigurationException ex)
        {
            ReportFailure(ex);
        }
    }

    // ClientLb's "Endpoints" list, plus the sections Microsoft.Extensions.ServiceDiscovery reads: "default" and one per
    // scheme (whose endpoints take that scheme), or only the named section for a named port. Which scheme a request
    // gets is decided per request URI by SchemeFilter, so one source serves http://svc and https+http://svc alike.
    private List<Endpoint> ReadEndpoints(string key, ServiceOptions entry)
    {
        var endpoints = new List<Endpoint>();
        if (Service.PortName is string portName)
        {
            if (!entry.NamedEndpoints.TryGetValue(portName, out IList<string>? named))
            {
                throw new ClientLbConfigurationException(NamedPath(key, portName), null, $"the service has no endpoint named '{portName}'");
            }
            Read(endpoints, NamedPath(key, portName), named, null);
            return endpoints;
        }
        Read(endpoints, $"{ClientLbOptions.SectionName}:Services:{key}:Endpoints", entry.Endpoints, null);
        foreach ((string name, IList<string> values) in entry.NamedEndpoints)
        {
            string? scheme = name.ToLowerInvariant() switch { "http" => "http", "https" => "https", "default" => null, _ => "" };
            if (scheme != "")
            {
                Read(endpoints, NamedPath(key, name), values, scheme);
            }
        }
        return endpoints;
    }

    private static void Read(List<Endpoint> into, string path, IList<string> values, string? sectionScheme)
    {
        for (int i = 0; i < values.Count; i++)
        {
            string itemPath = path + ":" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string text = values[i];
            // "host:port;weight=3;zone=z1;node=n1": attributes a static endpoint cannot get from anywhere else.
            string[] parts = (text ?? "").Split(';', StringSplitOptions.TrimEntries);
            string address = parts[0];
            if (!Endpoint.TryParse(sectionScheme is not null && !address.Contains("://", StringComparison.Ordinal) ? sectionScheme + "://" + address : address, out Endpoint? endpoint, out string? error))
            {
                throw new ClientLbConfigurationException(itemPath, text, error);
            }
            into.Add(parts.Length == 1 ? endpoint : WithAttributes(endpoint, parts.AsSpan(1), itemPath, text!));
        }
    }

    private static Endpoint WithAttributes(Endpoint endpoint, ReadOnlySpan<string> attributes, string path, string text)
    {
        int weight = endpoint.Weight;
        string? zone = null, node = null;
        foreach (string attribute in attributes)
        {
            int equals = attribute.IndexOf('=');
            string name = equals < 0 ? attribute : attribute[..equals].Trim();
            string value = equals < 0 ? "" : attribute[(equals + 1)..].Trim();
            switch (name.ToLowerInvariant())
            {
                case "weight" when int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int w) && w >= 1:
                    weight = w;
                    break;
                case "weight":
                    throw new ClientLbConfigurationException(path, text, $"the weight '{value}' is not a whole number of at least 1");
                case "zone" when value.Length > 0:
                    zone = value;
                    break;
                case "node" when value.Length > 0:
                    node = value;
                    break;
                default:
                    throw new ClientLbConfigurationException(path, text, $"unknown or empty endpoint attribute '{attribute}' (known: weight=N, zone=NAME, node=NAME)");
            }
        }
        if (endpoint.Address is null)
        {
            if (zone is not null || node is not null)
            {
                throw new ClientLbConfigurationException(path, text, "zone and node can only be given for an IP address endpoint");
            }
            return Endpoint.ForDnsName(endpoint.Host, endpoint.Port, endpoint.Scheme, weight);
        }
        return new Endpoint(endpoint.Address, endpoint.Port, zone: zone, nodeName: node, weight: weight, scheme: endpoint.Scheme);
    }

    private static string NamedPath(string key, string name) => $"{ClientLbOptionsSetup.ServiceDiscoverySectionName}:{key}:{name}";

    protected override ValueTask DisposeCoreAsync()
    {
        _onChange?.Dispose();
        return ValueTask.CompletedTask;
    }
}
