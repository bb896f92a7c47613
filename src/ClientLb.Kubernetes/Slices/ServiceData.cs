using System.Collections.Immutable;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Slices;

/// <summary>What the watches know about one service at one moment: its Service object and all its slices. Immutable.</summary>
/// <param name="Namespace">The namespace.</param>
/// <param name="Name">The service name.</param>
/// <param name="Service">The v1 Service, or null when it does not exist (or not yet listed).</param>
/// <param name="Slices">Every EndpointSlice labelled with the service's name, ordered by slice name.</param>
/// <param name="Synced">Both the slices and the service have been listed at least once.</param>
internal sealed record ServiceData(string Namespace, string Name, Service? Service, ImmutableArray<EndpointSlice> Slices, bool Synced)
{
    /// <summary>The resourceVersion the slices were read at: the scope's last slice list or event when this was taken.</summary>
    public string? SlicesVersion { get; init; }

    /// <summary>The resourceVersion the Service was read at, like <see cref="SlicesVersion"/>.</summary>
    public string? ServicesVersion { get; init; }

    public static ServiceData Empty(string ns, string name) => new(ns, name, null, [], false);

    /// <summary>
    /// Whether this state, read by another scope, may replace <paramref name="current"/> without going back in time:
    /// it is listed, and its slices and its Service are each either the very objects of <paramref name="current"/>
    /// (same resourceVersions) or were read at a resourceVersion at least as high. Two scopes of the same objects see
    /// the same changes in the same order, only not at the same moment.
    /// </summary>
    public bool CanReplace(ServiceData current)
    {
        if (!Synced)
        {
            return false;
        }
        if (!current.Synced)
        {
            return true;
        }
        bool sameService = Service?.Metadata.ResourceVersion == current.Service?.Metadata.ResourceVersion
            && (Service is null) == (current.Service is null);
        bool sameSlices = Slices.Length == current.Slices.Length && Slices.Zip(current.Slices).All(static p =>
            p.First.Metadata.Name == p.Second.Metadata.Name && p.First.Metadata.ResourceVersion == p.Second.Metadata.ResourceVersion);
        return (sameService || IsAtLeast(ServicesVersion, current.ServicesVersion))
            && (sameSlices || IsAtLeast(SlicesVersion, current.SlicesVersion));
    }

    /// <summary>
    /// <paramref name="a"/> &gt;= <paramref name="b"/> as resourceVersions: positive decimal integers without leading
    /// zeros, comparable since Kubernetes 1.35 (KEP-5504; etcd's revisions always were). False when either is not one,
    /// so a server with opaque versions only hands over on identical objects.
    /// </summary>
    internal static bool IsAtLeast(string? a, string? b)
    {
        if (!IsComparable(a) || !IsComparable(b))
        {
            return false;
        }
        return a.Length != b.Length ? a.Length > b.Length : string.CompareOrdinal(a, b) >= 0;
    }

    private static bool IsComparable([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? version) =>
        version is { Length: > 0 } && version[0] != '0' && version.All(char.IsAsciiDigit);
}
