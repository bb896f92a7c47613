using System.Diagnostics.CodeAnalysis;
using ClientLb.Names;
using Microsoft.Extensions.Options;

namespace ClientLb.Sources;

/// <summary>Serves the services named in configuration (<c>ClientLb:Services</c> or <c>Services</c>).</summary>
internal sealed class ConfigurationSourceFactory(IOptionsMonitor<ClientLbOptions> options, ServiceNameDefaults defaults, TimeProvider timeProvider) : IEndpointSourceFactory
{
    public string Kind => ConfigurationEndpointSource.SourceKind;

    // An entry without endpoints only carries balancing settings for a service another source discovers.
    public IEndpointSource? TryCreate(ServiceName service) =>
        TryFind(options.CurrentValue, service, defaults, out string? key, out ServiceOptions? entry) && HasEndpoints(entry)
            ? new ConfigurationEndpointSource(service, key, options, defaults, timeProvider)
            : null;

    internal static bool HasEndpoints(ServiceOptions entry) => entry.Endpoints.Count > 0 || entry.NamedEndpoints.Count > 0;

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
