using System.Collections.Immutable;
using ClientLb.Eligibility;
using ClientLb.Endpoints;

namespace ClientLb.Agent.Model;

/// <summary>
/// One port of a Service as the agent should program it: the protocol and service port clients connect to, and the
/// endpoints (pod address and target port each, with their EndpointSlice conditions) behind it. Values are taken as
/// given; the agent validates them before any of them becomes part of a rule.
/// </summary>
public sealed class ServicePortState : IEquatable<ServicePortState>
{
    /// <summary>Creates a port.</summary>
    /// <param name="name">The port's name (<c>spec.ports[].name</c>); null or empty when the port is unnamed.</param>
    /// <param name="protocol">The transport protocol.</param>
    /// <param name="port">The service port clients connect to (validated to 1-65535 by the agent).</param>
    /// <param name="endpoints">Every endpoint of this port, ready or not: the agent selects the eligible ones with <see cref="EndpointSelector"/>.</param>
    public ServicePortState(string? name, ServiceProtocol protocol, int port, IEnumerable<Endpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        Name = string.IsNullOrEmpty(name) ? null : name;
        Protocol = protocol;
        Port = port;
        Endpoints = [.. endpoints];
    }

    /// <summary>The port's name, or null.</summary>
    public string? Name { get; }

    /// <summary>The transport protocol.</summary>
    public ServiceProtocol Protocol { get; }

    /// <summary>The service port.</summary>
    public int Port { get; }

    /// <summary>Every endpoint of this port (each with its own target port).</summary>
    public ImmutableArray<Endpoint> Endpoints { get; }

    /// <summary>Structural equality: same name, protocol, port and endpoints (in order, compared with <see cref="Endpoint.Equals(Endpoint)"/>).</summary>
    public bool Equals(ServicePortState? other) =>
        other is not null && (ReferenceEquals(this, other) ||
        (Protocol == other.Protocol && Port == other.Port && string.Equals(Name, other.Name, StringComparison.Ordinal) &&
         Endpoints.AsSpan().SequenceEqual(other.Endpoints.AsSpan())));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ServicePortState);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Protocol, Port, Endpoints.Length);
}
