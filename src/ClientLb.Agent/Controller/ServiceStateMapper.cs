using System.Globalization;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes.Slices;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Agent.Controller;

/// <summary>Turns a Service and its EndpointSlices (one entry of the slice cache) into the agent's <see cref="ServiceState"/>.</summary>
internal static class ServiceStateMapper
{
    /// <summary>
    /// The state of the service, or null when it has no VIP to program (no Service object, headless, ExternalName, no
    /// cluster IP yet); <paramref name="skipped"/> then says why. Ports with a protocol the agent does not know are left
    /// out and named in <paramref name="warnings"/>. Each port's endpoints come from the slices by the one mapping
    /// (<see cref="ServiceSlices.MapEndpoints"/>); loopback addresses are refused (the kernel never DNATs to loopback).
    /// Endpoints whose address is refused are left out (the rest of the service is kept) and reported to
    /// <paramref name="dropped"/> (record, reason), or named in <paramref name="warnings"/> without it.
    /// </summary>
    public static ServiceState? Map(ServiceSlices slices, out string? skipped, List<string> warnings, Action<string, string>? dropped = null)
    {
        string ns = slices.Namespace;
        string name = slices.Name;
        if (slices.ServiceInfo is not KubernetesServiceInfo info)
        {
            skipped = "the service does not exist";
            return null;
        }
        if (info.Type == "ExternalName")
        {
            skipped = "an ExternalName service has no cluster IP";
            return null;
        }
        if (info.ClusterIPs.Count == 0)
        {
            skipped = info.IsHeadless ? "a headless service has no cluster IP" : "the service has no cluster IP";
            return null;
        }
        skipped = null;
        int? affinity = info.SessionAffinityTimeout is TimeSpan timeout ? (int)timeout.TotalSeconds : null;
        Action<string, string> report = dropped ?? ((record, reason) => warnings.Add($"{record} dropped: {reason}"));
        var ports = new List<ServicePortState>();
        foreach (KubernetesServicePort port in info.Ports)
        {
            if (!ServiceProtocols.TryParse(port.Protocol, out ServiceProtocol protocol, out string? error))
            {
                warnings.Add($"{ns}/{name} port {port.Name ?? port.Port.ToString(CultureInfo.InvariantCulture)}: {error}; port left out");
                continue;
            }
            IReadOnlyList<ClientEndpoint> endpoints = slices.MapEndpoints(port, allowLoopback: false, report);
            ports.Add(new ServicePortState(port.Name, protocol, port.Port, endpoints));
        }
        return new ServiceState(ns, name, info.ClusterIPs, ports, affinity);
    }
}
