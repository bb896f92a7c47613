using System.Net;
using ClientLb.Agent.Model;
using ClientLb.Endpoints;
using ClientLb.Kubernetes.Slices;
using EndpointSlice = ClientLb.Kubernetes.Model.EndpointSlice;
using Service = ClientLb.Kubernetes.Model.Service;

namespace ClientLb.Agent.Tests;

/// <summary>Builds service states for tests.</summary>
internal static class Services
{
    public static Endpoint Ep(string address, int port, bool ready = true, bool serving = true, bool terminating = false) =>
        new(IPAddress.Parse(address), port, new EndpointConditions(ready, serving, terminating));

    public static ServiceState Tcp(string name, string vip, int port, int targetPort, params string[] endpoints) =>
        new("default", name, [vip], [new ServicePortState("http", ServiceProtocol.Tcp, port, endpoints.Select(e => Ep(e, targetPort)))]);

    public static ServiceState Udp(string name, string vip, int port, int targetPort, params string[] endpoints) =>
        new("default", name, [vip], [new ServicePortState("dns", ServiceProtocol.Udp, port, endpoints.Select(e => Ep(e, targetPort)))]);

    /// <summary>A Service and its slices as the slice cache holds them (what the controller maps).</summary>
    public static ServiceSlices Slices(Service service, params IEnumerable<EndpointSlice> slices) =>
        new(service.Metadata.Namespace ?? "", service.Metadata.Name ?? "", service, [.. slices.OrderBy(static s => s.Metadata.Name, StringComparer.Ordinal)], Synced: true);

    public static ServiceState WithAffinity(ServiceState s, int timeout) => new(s.Namespace, s.Name, s.ClusterIPs, s.Ports, timeout);
}
