using System.Net;
using ClientLb.Kubernetes.Model;
using ClientLb.ServiceDiscovery;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;
using ClientConditions = ClientLb.Endpoints.EndpointConditions;

namespace ClientLb.Kubernetes.Source;

/// <summary>
/// Turns all slices of a service into ClientLb endpoints for one port: the slice port matching the choice gives each
/// slice's target port; every slice contributes (IPv4 and IPv6 slices alike, so dual-stack services keep both
/// families); an address+port seen in several slices (a pod moving between slices) appears once, the ready copy winning.
/// </summary>
internal static class EndpointMapper
{
    public static List<ClientEndpoint> Map(IReadOnlyList<EndpointSlice> slices, PortChoice choice) =>
        Merge(slices.Select(slice => MapSlice(slice, choice)));

    /// <summary>The endpoints of one slice for the port choice (empty when the slice does not serve it).</summary>
    public static IReadOnlyList<ClientEndpoint> MapSlice(EndpointSlice slice, PortChoice choice)
    {
        // FQDN slices are deprecated and name hosts, not pods: not endpoints of a service.
        if (slice.AddressType is not ("IPv4" or "IPv6") || slice.Endpoints is null || PortOf(slice, choice) is not int port)
        {
            return [];
        }
        var result = new List<ClientEndpoint>(slice.Endpoints.Count);
        foreach (Model.Endpoint endpoint in slice.Endpoints)
        {
            // Kubernetes: consumers use the first address; the rest are fungible.
            if (endpoint.Addresses.Count == 0 || !IPAddress.TryParse(endpoint.Addresses[0], out IPAddress? address))
            {
                continue;
            }
            ClientConditions conditions = ClientConditions.FromApi(endpoint.Conditions?.Ready, endpoint.Conditions?.Serving, endpoint.Conditions?.Terminating);
            result.Add(new ClientEndpoint(address, port, conditions, endpoint.Hostname, endpoint.Zone, endpoint.NodeName, zoneHints: endpoint.ZoneHintNames(), nodeHints: endpoint.NodeHintNames()));
        }
        return result;
    }

    /// <summary>Concatenates per-slice endpoints; an address+port seen twice appears once, the ready copy winning.</summary>
    public static List<ClientEndpoint> Merge(IEnumerable<IReadOnlyList<ClientEndpoint>> perSlice)
    {
        var result = new List<ClientEndpoint>();
        var index = new Dictionary<(string Host, int Port), int>();
        foreach (IReadOnlyList<ClientEndpoint> endpoints in perSlice)
        {
            foreach (ClientEndpoint endpoint in endpoints)
            {
                var key = (endpoint.Host, endpoint.Port);
                if (index.TryGetValue(key, out int at))
                {
                    if (!result[at].Conditions.Ready && endpoint.Conditions.Ready)
                    {
                        result[at] = endpoint;
                    }
                    continue;
                }
                index[key] = result.Count;
                result.Add(endpoint);
            }
        }
        return result;
    }

    /// <summary>The slice's port for the choice, or null when this slice's endpoints do not serve it.</summary>
    public static int? PortOf(EndpointSlice slice, PortChoice choice)
    {
        foreach (EndpointPort port in slice.Ports ?? [])
        {
            if ((port.Protocol ?? "TCP") != "TCP" || port.Port is not int number || number is < 1 or > 65535)
            {
                continue;
            }
            if (choice.Name is not null ? (port.Name ?? "") == choice.Name : number == choice.Number)
            {
                return number;
            }
        }
        return null;
    }
}
