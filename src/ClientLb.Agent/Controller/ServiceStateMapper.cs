using ClientLb.Agent.Model;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Agent.Controller;

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
    /// out and named in <paramref name="warnings"/>. Endpoints whose address is refused are left out (the rest of the service is
    /// kept) and reported to <paramref name="dropped"/> (record, reason), or named in <paramref name="warnings"/> without it.
    /// </summary>
    public static ServiceState? Map(Service service, IEnumerable<EndpointSlice> slices, out string? skipped, List<string> warnings, Action<string, string>? dropped = null)
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
            List<ClientEndpoint> endpoints = EndpointMapper.Merge(own.Select(slice => Endpoints(slice, port.Name ?? "", protocolName, dropped ?? ((record, reason) => warnings.Add($"{record} dropped: {reason}")))));
            ports.Add(new ServicePortState(port.Name, protocol, port.Port, endpoints));
        }
        return new ServiceState(ns, name, clusterIPs, ports, affinity);
    }

    /// <summary>The slice's endpoints for the Service port named <paramref name="portName"/> ("" for an unnamed port).</summary>
    private static List<ClientEndpoint> Endpoints(EndpointSlice slice, string portName, string protocol, Action<string, string> dropped)
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
            if (targetPort is < 1 or > 65535)
            {
                break;
            }
            // The SDK's mapping and address rule; the kernel never DNATs to loopback, so loopback is refused here too.
            if (EndpointMapper.MapEndpoint(endpoint, targetPort, allowLoopback: false, out string? error) is ClientEndpoint mapped)
            {
                result.Add(mapped);
            }
            else
            {
                dropped(EndpointMapper.Describe(slice, endpoint), error!);
            }
        }
        return result;
    }
}
