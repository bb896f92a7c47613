using System.Globalization;
using ClientLb.Kubernetes.Model;
using ClientLb.Names;

namespace ClientLb.Kubernetes.Slices;

/// <summary>Which EndpointSlice port a service name means: by slice port name, or (without a Service object) by number; and its protocol.</summary>
/// <param name="Name">The slice port name to match (the Service port's name; empty for an unnamed port).</param>
/// <param name="Number">The slice port number to match when there is no Service object to map through.</param>
/// <param name="Protocol">The slice port's protocol (a slice port without one is TCP): the SDK speaks TCP; the agent programs each Service port's own.</param>
internal readonly record struct PortChoice(string? Name, int? Number, string Protocol = "TCP")
{
    /// <summary>The slice port behind a Service port: the one with its name and protocol.</summary>
    public static PortChoice Of(KubernetesServicePort port) => new(port.Name ?? "", null, port.Protocol);
}

/// <summary>
/// Maps the port of a service name to an EndpointSlice port. Traffic goes straight to the pods, so the port used is the
/// slice's (the targetPort), chosen by the Service port it belongs to:
/// <list type="bullet">
/// <item>a named port (<c>svc.ns:grpc</c>, <c>_grpc.svc.ns</c>): the Service port of that name;</item>
/// <item>a number (<c>http://svc.ns:8080</c>): the Service port with that <c>port</c> (not the targetPort, as with a ClusterIP);</item>
/// <item>no port (<c>http://svc.ns</c>): the Service's only port; with several, the one named like the scheme (<c>http</c>, <c>https</c>),
/// else the one numbered like the scheme's default (80, 443); otherwise an error asking for a port.</item>
/// </list>
/// Without a Service object (slices managed by hand), a name matches the slice port name, a number the slice port number,
/// and no port the single port of the slices.
/// </summary>
internal static class PortResolver
{
    public static PortChoice Resolve(ServiceName name, Service? service, IReadOnlyList<EndpointSlice> slices, out string? error)
    {
        error = null;
        if (service is null)
        {
            return WithoutService(name, slices, out error);
        }
        List<ServicePort> ports = service.Spec.Ports ?? [];
        if (name.PortName is string portName)
        {
            if (ports.Find(p => p.Name == portName) is ServicePort named)
            {
                return new PortChoice(named.Name ?? "", null);
            }
            error = $"the Service {name.Key} has no port named '{portName}' (ports: {Describe(ports)})";
            return default;
        }
        if (name.Port is int number)
        {
            if (ports.Find(p => p.Port == number) is ServicePort numbered)
            {
                return new PortChoice(numbered.Name ?? "", null);
            }
            error = $"the Service {name.Key} has no port {number} (ports: {Describe(ports)}); address the Service port, not the pod's targetPort";
            return default;
        }
        if (ports.Count == 1)
        {
            return new PortChoice(ports[0].Name ?? "", null);
        }
        string? scheme = name.Schemes.Count > 0 ? name.Schemes[0] : null;
        if (scheme is not null)
        {
            if (ports.Find(p => p.Name == scheme) is ServicePort byScheme)
            {
                return new PortChoice(byScheme.Name ?? "", null);
            }
            int defaultPort = scheme == "https" ? 443 : scheme == "http" ? 80 : 0;
            if (ports.Find(p => p.Port == defaultPort) is ServicePort byDefault)
            {
                return new PortChoice(byDefault.Name ?? "", null);
            }
        }
        error = ports.Count == 0
            ? $"the Service {name.Key} has no ports"
            : $"the Service {name.Key} has several ports ({Describe(ports)}); choose one, e.g. '{name.Key}:{ports[0].Name ?? ports[0].Port.ToString(CultureInfo.InvariantCulture)}' or 'http://{name.Key}:{ports[0].Port}'";
        return default;
    }

    private static PortChoice WithoutService(ServiceName name, IReadOnlyList<EndpointSlice> slices, out string? error)
    {
        error = null;
        var ports = slices.SelectMany(s => s.Ports ?? []).ToList();
        if (name.PortName is string portName)
        {
            if (ports.Exists(p => p.Name == portName))
            {
                return new PortChoice(portName, null);
            }
            error = $"there is no Service {name.Key} and none of its EndpointSlices has a port named '{portName}'";
            return default;
        }
        if (name.Port is int number)
        {
            if (ports.Exists(p => p.Port == number))
            {
                return new PortChoice(null, number);
            }
            error = $"there is no Service {name.Key} and none of its EndpointSlices has the port {number}";
            return default;
        }
        var names = slices.SelectMany(s => s.Ports ?? []).Select(p => p.Name ?? "").Distinct(StringComparer.Ordinal).ToList();
        if (names.Count == 1)
        {
            return new PortChoice(names[0], null);
        }
        error = names.Count == 0
            ? $"there is no Service {name.Key} and its EndpointSlices have no ports"
            : $"there is no Service {name.Key} and its EndpointSlices have several ports ({string.Join(", ", names)}); name one, e.g. '{name.Key}:{names[0]}'";
        return default;
    }

    public static string Describe(IEnumerable<ServicePort> ports)
    {
        string text = string.Join(", ", ports.Select(static p => KubernetesServicePort.From(p).ToString()));
        return text.Length == 0 ? "none" : text;
    }
}
