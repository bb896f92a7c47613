using System.Collections.Immutable;

namespace ClientLb.Agent.Model;

/// <summary>
/// The desired state of one Service for the agent: its identity, virtual IPs (at most one per family), ports with their
/// endpoints and ClientIP session affinity. Built by a source (the Kubernetes watch, a file, a test) from raw API values;
/// the agent validates every value and rejects a service that fails, naming the field, while the others keep working.
/// </summary>
public sealed class ServiceState : IEquatable<ServiceState>
{
    /// <summary>Creates a service state.</summary>
    /// <param name="namespace">The Kubernetes namespace (a DNS-1123 label).</param>
    /// <param name="name">The Service name (a DNS-1123 label).</param>
    /// <param name="clusterIPs">The virtual IPs as the API spells them (<c>spec.clusterIPs</c>); one IPv4 and/or one IPv6.</param>
    /// <param name="ports">The ports.</param>
    /// <param name="clientIPAffinityTimeoutSeconds">
    /// For <c>sessionAffinity: ClientIP</c>, the affinity timeout in seconds (1-86400; Kubernetes' default is 10800);
    /// null for no affinity.
    /// </param>
    public ServiceState(string @namespace, string name, IEnumerable<string> clusterIPs, IEnumerable<ServicePortState> ports, int? clientIPAffinityTimeoutSeconds = null)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(clusterIPs);
        ArgumentNullException.ThrowIfNull(ports);
        Namespace = @namespace;
        Name = name;
        ClusterIPs = [.. clusterIPs];
        Ports = [.. ports];
        ClientIPAffinityTimeoutSeconds = clientIPAffinityTimeoutSeconds;
    }

    /// <summary>The namespace.</summary>
    public string Namespace { get; }

    /// <summary>The Service name.</summary>
    public string Name { get; }

    /// <summary><c>namespace/name</c>: the identity the agent keys its state on and names in logs and rejections.</summary>
    public string Key => Namespace + "/" + Name;

    /// <summary>The virtual IPs, unparsed.</summary>
    public ImmutableArray<string> ClusterIPs { get; }

    /// <summary>The ports.</summary>
    public ImmutableArray<ServicePortState> Ports { get; }

    /// <summary>The ClientIP affinity timeout in seconds, or null without affinity.</summary>
    public int? ClientIPAffinityTimeoutSeconds { get; }

    /// <summary>Structural equality over every field, so an unchanged service costs the agent one comparison per sync.</summary>
    public bool Equals(ServiceState? other) =>
        other is not null && (ReferenceEquals(this, other) ||
        (string.Equals(Namespace, other.Namespace, StringComparison.Ordinal) && string.Equals(Name, other.Name, StringComparison.Ordinal) &&
         ClientIPAffinityTimeoutSeconds == other.ClientIPAffinityTimeoutSeconds &&
         ClusterIPs.AsSpan().SequenceEqual(other.ClusterIPs.AsSpan()) && Ports.AsSpan().SequenceEqual(other.Ports.AsSpan())));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ServiceState);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Namespace, Name, Ports.Length);

    /// <inheritdoc />
    public override string ToString() => Key;
}
