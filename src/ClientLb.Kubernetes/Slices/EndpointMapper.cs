using System.Net;
using ClientLb.Endpoints;
using ClientLb.Kubernetes.Model;
using ClientConditions = ClientLb.Endpoints.EndpointConditions;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Slices;

/// <summary>
/// Turns all slices of a service into ClientLb endpoints for one port: the slice port matching the choice gives each
/// slice's target port; every slice contributes (IPv4 and IPv6 slices alike, so dual-stack services keep both
/// families); an address+port seen in several slices (a pod moving between slices) appears once, the ready copy winning.
/// </summary>
internal static class EndpointMapper
{
    public static List<ClientEndpoint> Map(IReadOnlyList<EndpointSlice> slices, PortChoice choice, bool allowLoopback = false, Action<string, string>? dropped = null) =>
        Merge(slices.Select(slice => MapSlice(slice, choice, allowLoopback, dropped)));

    /// <summary>The endpoints of one slice for the port choice (empty when the slice does not serve it).</summary>
    public static IReadOnlyList<ClientEndpoint> MapSlice(EndpointSlice slice, PortChoice choice, bool allowLoopback = false, Action<string, string>? dropped = null)
    {
        if (ServedPort(slice, choice) is not int port)
        {
            return [];
        }
        var result = new List<ClientEndpoint>(slice.Endpoints!.Count);
        foreach (Model.Endpoint endpoint in slice.Endpoints)
        {
            if (MapEndpoint(endpoint, port, allowLoopback, out string? error) is ClientEndpoint mapped)
            {
                result.Add(mapped);
            }
            else
            {
                dropped?.Invoke(Describe(slice, endpoint), error!);
            }
        }
        return result;
    }

    /// <summary>The record as a log line names it: <c>slice NAME endpoint ADDRESS</c>.</summary>
    public static string Describe(EndpointSlice slice, Model.Endpoint endpoint) =>
        $"EndpointSlice {EndpointAddress.Display(slice.Metadata.Name ?? "")} endpoint '{(endpoint.Address is string address ? EndpointAddress.Display(address) : "")}'";

    /// <summary>
    /// The port the slice's endpoints serve for the choice, or null when the slice gives no endpoints for it: no port
    /// matches, it has no endpoints, or it is an FQDN slice (deprecated, naming hosts rather than pods).
    /// </summary>
    public static int? ServedPort(EndpointSlice slice, PortChoice choice) =>
        slice.AddressType is "IPv4" or "IPv6" && slice.Endpoints is not null ? PortOf(slice, choice) : null;

    /// <summary>
    /// One API endpoint on <paramref name="port"/>; null, with the reason in <paramref name="error"/>, when its address is
    /// missing, not canonical or not usable (<see cref="EndpointAddress"/>; loopback only when <paramref name="allowLoopback"/>).
    /// </summary>
    public static ClientEndpoint? MapEndpoint(Model.Endpoint endpoint, int port, bool allowLoopback, out string? error)
    {
        // Kubernetes: consumers use the first address; the rest are fungible.
        IPAddress? address = endpoint.ParsedAddress; // a kept slice's, shared by every endpoint mapped from it
        if (address is not null)
        {
            if ((error = EndpointAddress.CheckUsable(address, allowLoopback)) is not null)
            {
                return null;
            }
        }
        else if (endpoint.Address is not string first)
        {
            error = "the endpoint has no address";
            return null;
        }
        else if (!EndpointAddress.TryParse(first, allowLoopback, out address, out error))
        {
            return null;
        }
        ClientConditions conditions = ClientConditions.FromApi(endpoint.Conditions?.Ready, endpoint.Conditions?.Serving, endpoint.Conditions?.Terminating);
        return new ClientEndpoint(address, port, conditions, endpoint.Hostname, endpoint.Zone, endpoint.NodeName,
            zoneHints: endpoint.ZoneHintNames(), nodeHints: endpoint.NodeHintNames());
    }

    /// <summary>
    /// Whether two API endpoints map to equal ClientLb endpoints: compares every field <see cref="MapEndpoint"/> reads,
    /// so an unchanged endpoint of a changed slice can keep its mapped object (no parsing, no allocation).
    /// </summary>
    public static bool SameMapping(Model.Endpoint a, Model.Endpoint b)
    {
        if (!SameAddress(a, b)
            || !string.Equals(a.Hostname, b.Hostname, StringComparison.Ordinal) || !string.Equals(a.Zone, b.Zone, StringComparison.Ordinal)
            || !string.Equals(a.NodeName, b.NodeName, StringComparison.Ordinal)
            || a.Conditions?.Ready != b.Conditions?.Ready || a.Conditions?.Serving != b.Conditions?.Serving || a.Conditions?.Terminating != b.Conditions?.Terminating)
        {
            return false;
        }
        return SameNames(a.Hints?.ForZones, b.Hints?.ForZones, static z => z.Name) && SameNames(a.Hints?.ForNodes, b.Hints?.ForNodes, static n => n.Name);
    }

    // Both held parsed (kept slices): equal addresses; otherwise equal texts (a parsed one's text is its canonical text).
    private static bool SameAddress(Model.Endpoint a, Model.Endpoint b) =>
        a.ParsedAddress is IPAddress x && b.ParsedAddress is IPAddress y ? x.Equals(y) : a.Address is string text && string.Equals(text, b.Address, StringComparison.Ordinal);

    private static bool SameNames<T>(List<T>? a, List<T>? b, Func<T, string> name)
    {
        int count = a?.Count ?? 0;
        if (count != (b?.Count ?? 0))
        {
            return false;
        }
        for (int i = 0; i < count; i++)
        {
            if (!string.Equals(name(a![i]), name(b![i]), StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
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
                (string Host, int Port) key = (endpoint.Host, endpoint.Port);
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

    /// <summary>The slice's port for the choice (its name or number, and its protocol), or null when this slice's endpoints do not serve it.</summary>
    public static int? PortOf(EndpointSlice slice, PortChoice choice)
    {
        foreach (EndpointPort port in slice.Ports ?? [])
        {
            if ((string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol) != (choice.Protocol ?? "TCP") || port.Port is not int number || number is < 1 or > 65535)
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
