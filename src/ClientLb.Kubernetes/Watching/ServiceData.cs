using System.Collections.Immutable;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Watching;

/// <summary>What the watches know about one service at one moment: its Service object and all its slices. Immutable.</summary>
/// <param name="Namespace">The namespace.</param>
/// <param name="Name">The service name.</param>
/// <param name="Service">The v1 Service, or null when it does not exist (or not yet listed).</param>
/// <param name="Slices">Every EndpointSlice labelled with the service's name, ordered by slice name.</param>
/// <param name="Synced">Both the slices and the service have been listed at least once.</param>
internal sealed record ServiceData(string Namespace, string Name, Service? Service, ImmutableArray<EndpointSlice> Slices, bool Synced)
{
    public static ServiceData Empty(string ns, string name) => new(ns, name, null, [], false);
}
