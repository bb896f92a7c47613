using System.Globalization;
using ClientLb.Kubernetes.Model;
using ClientLb.Names;
using ClientLb.Registry;
using Endpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Slices;

/// <summary>
/// How a service name maps through its service's EndpointSlices, endpoint by endpoint: the port the name chooses and, for
/// every endpoint of every slice, the endpoint it becomes or why it is left out. The same code as the Kubernetes source's
/// (<see cref="ServiceSlices.Explain"/>), so a tool's explanation (<c>clientlb resolve --explain</c>) cannot disagree with it.
/// </summary>
/// <param name="PortName">The slice port name the name chooses (empty for an unnamed port); null when it chooses by number or none.</param>
/// <param name="PortError">Why the name chooses no port (no such Service port, several ports and no hint); null when it chooses one.</param>
/// <param name="Slices">Every slice, ordered by name.</param>
public sealed record ServiceNameMapping(string? PortName, string? PortError, IReadOnlyList<SliceMapping> Slices);

/// <summary>One EndpointSlice as a service name maps it.</summary>
/// <param name="Name">The slice's name.</param>
/// <param name="AddressType">IPv4, IPv6 or FQDN (FQDN slices give no endpoints).</param>
/// <param name="Ports">The slice's ports, as <c>name number</c> (<c>(unnamed)</c>, <c>-</c> where missing), for messages.</param>
/// <param name="ServedPort">The slice port the name's port maps to (the target port); null when the slice does not serve it.</param>
/// <param name="Endpoints">Each endpoint of the slice, in order.</param>
public sealed record SliceMapping(string Name, string? AddressType, IReadOnlyList<string> Ports, int? ServedPort, IReadOnlyList<EndpointMapping> Endpoints);

/// <summary>One endpoint of a slice as a service name maps it.</summary>
/// <param name="Address">The endpoint's first address as the slice gives it (<c>(no address)</c> when it has none).</param>
/// <param name="Endpoint">The endpoint it becomes (with its conditions); null when it is left out.</param>
/// <param name="DropReason">Why it is left out (its slice does not serve the port, or its address is refused); null when kept.</param>
public sealed record EndpointMapping(string Address, Endpoint? Endpoint, string? DropReason)
{
    /// <summary>Whether the endpoint's slice serves the chosen port (the endpoint may still be left out for its address).</summary>
    public bool Served { get; init; } = true;
}

/// <summary>Builds a <see cref="ServiceNameMapping"/> with the source's own port choice and slice mapping.</summary>
internal static class ServiceNameMapper
{
    public static ServiceNameMapping Map(ServiceName name, Service? service, IReadOnlyList<EndpointSlice> slices, bool allowLoopback)
    {
        PortChoice choice = PortResolver.Resolve(name, service, slices, out string? portError);
        var mapped = new List<SliceMapping>(slices.Count);
        foreach (EndpointSlice slice in slices)
        {
            List<string> ports = [.. (slice.Ports ?? []).Select(static p =>
                $"{(string.IsNullOrEmpty(p.Name) ? "(unnamed)" : p.Name)} {p.Port?.ToString(CultureInfo.InvariantCulture) ?? "-"}")];
            int? served = portError is null ? EndpointMapper.ServedPort(slice, choice) : null;
            var endpoints = new List<EndpointMapping>(slice.Endpoints?.Count ?? 0);
            foreach (Model.Endpoint raw in slice.Endpoints ?? [])
            {
                string address = raw.Address ?? "(no address)";
                if (served is not int port)
                {
                    endpoints.Add(new EndpointMapping(address, null, $"port name missing: the slice has no port '{choice.Name}' for this Service port") { Served = false });
                    continue;
                }
                Endpoint? endpoint = EndpointMapper.MapEndpoint(raw, port, allowLoopback, out string? invalid);
                endpoints.Add(new EndpointMapping(address, endpoint, endpoint is null ? invalid : null));
            }
            mapped.Add(new SliceMapping(slice.Metadata.Name ?? "", slice.AddressType, ports, served, endpoints));
        }
        return new ServiceNameMapping(portError is null ? choice.Name : null, portError, mapped);
    }
}
