using System.Net;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Source;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;
using ClientConditions = ClientLb.Endpoints.EndpointConditions;

namespace ClientLb.Agent.Watch;

/// <summary>Turns a Service and its EndpointSlices into the agent's <see cref="ServiceState"/>.</summary>
internal static class ServiceStateMapper
{
    /// <summary>The label that ties an EndpointSlice to its Service.</summary>
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <summary>kube-proxy's default ClientIP affinity timeout (3 hours).</summary>
    public const int DefaultAffinityTimeoutSeconds = 10800;

    /// <summary>
    /// The state of <paramref name="service"/>, or null when it has no VIP to program (headless, ExternalName, no
    /// cluster IP yet); <paramref name="skipped"/> then says why. Ports with a protocol the agent does not know are left
    /// out and named in <paramref name="warnings"/>.
    /// </summary>
    public static ServiceState? Map(Service service, IEnumerable<EndpointSlice> slices, out string? skipped, List<string> warnings)
    {
        string ns = service.Metadata.Namespace ?? "";
        string name = service.Metadata.Name ?? "";
        ServiceSpec spec = service.Spec;
        if (spec.Type == "ExternalName")
        {
            skipped = "an ExternalName service has no cluster IP";
            return null;
        }
        List<string> clusterIPs = [.. (spec.ClusterIPs is { Count: > 0 } ips ? ips : spec.ClusterIP is string ip ? [ip] : []).Where(static ip => ip.Length > 0 && ip != "None")];
        if (clusterIPs.Count == 0)
        {
            skipped = spec.ClusterIP == "None" ? "a headless service has no cluster IP" : "the service has no cluster IP";
            return null;
        }
        skipped = null;
        int? affinity = spec.SessionAffinity == "ClientIP" ? spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? DefaultAffinityTimeoutSeconds : null;
        List<EndpointSlice> own = [.. slices];
        var ports = new List<ServicePortState>();
        foreach (Kubernetes.Model.ServicePort port in spec.Ports ?? [])
        {
            if (!ServiceProtocols.TryParse(port.Protocol, out ServiceProtocol protocol, out string? error))
            {
                warnings.Add($"{ns}/{name} port {port.Name ?? port.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {error}; port left out");
                continue;
            }
            string protocolName = string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol;
            List<ClientEndpoint> endpoints = EndpointMapper.Merge(own.Select(slice => Endpoints(slice, port.Name ?? "", protocolName)));
            ports.Add(new ServicePortState(port.Name, protocol, port.Port, endpoints));
        }
        return new ServiceState(ns, name, clusterIPs, ports, affinity);
    }

    /// <summary>The slice's endpoints for the Service port named <paramref name="portName"/> ("" for an unnamed port).</summary>
    private static List<ClientEndpoint> Endpoints(EndpointSlice slice, string portName, string protocol)
    {
        if (slice.AddressType is not ("IPv4" or "IPv6") || slice.Endpoints is null)
        {
            return [];
        }
        int? target = null;
        foreach (EndpointPort port in slice.Ports ?? [])
        {
            if ((port.Name ?? "") == portName && (string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol) == protocol && port.Port is int number)
            {
                target = number;
                break;
            }
        }
        if (target is not int targetPort)
        {
            return [];
        }
        var result = new List<ClientEndpoint>(slice.Endpoints.Count);
        foreach (Kubernetes.Model.Endpoint endpoint in slice.Endpoints)
        {
            // Kubernetes: consumers use the first address; the rest are fungible.
            if (endpoint.Addresses.Count == 0 || !IPAddress.TryParse(endpoint.Addresses[0], out IPAddress? address) || targetPort is < 1 or > 65535)
            {
                continue;
            }
            ClientConditions conditions = ClientConditions.FromApi(endpoint.Conditions?.Ready, endpoint.Conditions?.Serving, endpoint.Conditions?.Terminating);
            result.Add(new ClientEndpoint(address, targetPort, conditions, endpoint.Hostname, endpoint.Zone, endpoint.NodeName,
                zoneHints: endpoint.ZoneHintNames(), nodeHints: endpoint.NodeHintNames()));
        }
        return result;
    }
}
