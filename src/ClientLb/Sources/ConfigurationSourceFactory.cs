using System.Diagnostics.CodeAnalysis;
using ClientLb.ServiceDiscovery;
using Microsoft.Extensions.Options;

namespace ClientLb.Sources;

/// <summary>Serves the services named in configuration (<c>ClientLb:Services</c> or <c>Services</c>).</summary>
internal sealed class ConfigurationSourceFactory(IOptionsMonitor<ClientLbOptions> options, ServiceNameDefaults defaults, TimeProvider timeProvider) : IEndpointSourceFactory
{
    public string Kind => ConfigurationEndpointSource.SourceKind;

    public IEndpointSource? TryCreate(ServiceName service) =>
        TryFind(options.CurrentValue, service, defaults, out string? key, out _)
            ? new ConfigurationEndpointSource(service, key, options, defaults, timeProvider)
            : null;

    /// <summary>Finds the entry for <paramref name="service"/>: its key may be <c>svc</c>, <c>svc.ns</c> or a full name.</summary>
    internal static bool TryFind(ClientLbOptions options, ServiceName service, ServiceNameDefaults defaults, [NotNullWhen(true)] out string? key, [NotNullWhen(true)] out ServiceOptions? entry)
    {
        foreach ((string name, ServiceOptions value) in options.Services)
        {
            if (ServiceName.TryParse(name, defaults, out ServiceName? configured, out _) && configured.Key == service.Key)
            {
                key = name;
                entry = value;
                return true;
            }
        }
        key = null;
        entry = null;
        return false;
    }
}
