using System.Globalization;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Slices;

/// <summary>A port of a v1 Service (<c>spec.ports[]</c>).</summary>
/// <param name="Name">The port's name; null or empty when the Service has one unnamed port.</param>
/// <param name="Port">The port clients address on the Service (its cluster IP).</param>
/// <param name="Protocol"><c>TCP</c> (also when the Service gives none), <c>UDP</c>, <c>SCTP</c>, or whatever else the Service says.</param>
/// <param name="TargetPort">The pod port as the Service gives it: a number or a container port's name; null when unset (then the same as <paramref name="Port"/>).</param>
public sealed record KubernetesServicePort(string? Name, int Port, string Protocol, string? TargetPort)
{
    internal static KubernetesServicePort From(ServicePort port) =>
        new(port.Name, port.Port, string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol, port.TargetPort?.ToString());

    /// <summary><c>name port-&gt;targetPort</c>, as messages show a port.</summary>
    public override string ToString() =>
        $"{(string.IsNullOrEmpty(Name) ? "(unnamed)" : Name)} {Port.ToString(CultureInfo.InvariantCulture)}->{TargetPort ?? Port.ToString(CultureInfo.InvariantCulture)}";
}
