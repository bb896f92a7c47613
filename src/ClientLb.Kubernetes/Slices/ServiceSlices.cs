using System.Collections.Immutable;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;
using ClientLb.Names;
using ClientLb.Registry;
using Endpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Slices;

/// <summary>
/// One service as an <see cref="EndpointSliceCache"/> holds it at one moment: its v1 Service, when it exists, and every
/// EndpointSlice labelled with its name (<see cref="EndpointSliceCache.ServiceNameLabel"/>), ordered by slice name.
/// Immutable: a change in the cache makes a new one. Read the Service's settings with <see cref="ServiceInfo"/> and the
/// endpoints behind one of its ports with <see cref="MapEndpoints"/>, the mapping the SDK's Kubernetes source uses too.
/// </summary>
public sealed record ServiceSlices
{
    // Parameters named like the properties, as a positional record's: callers name them (Synced: true).
    internal ServiceSlices(string Namespace, string Name, Service? Service, ImmutableArray<EndpointSlice> Slices, bool Synced)
    {
        this.Namespace = Namespace;
        this.Name = Name;
        this.Service = Service;
        this.Slices = Slices;
        this.Synced = Synced;
    }

    /// <summary>The namespace.</summary>
    public string Namespace { get; }

    /// <summary>The service name.</summary>
    public string Name { get; }

    /// <summary>Whether the Services and the EndpointSlices of the cache have each been listed at least once.</summary>
    public bool Synced { get; internal init; }

    /// <summary>Whether the v1 Service exists (it may be missing while its slices are known, e.g. during its deletion).</summary>
    public bool HasService => Service is not null;

    /// <summary>How many EndpointSlices the service has.</summary>
    public int SliceCount => Slices.Length;

    /// <summary>The Service's settings (type, cluster IPs, ports, session affinity), or null when it does not exist.</summary>
    public KubernetesServiceInfo? ServiceInfo => Service is null ? null : KubernetesServiceInfo.From(Service);

    /// <summary>The v1 Service, or null when it does not exist (or is not listed yet).</summary>
    internal Service? Service { get; init; }

    /// <summary>Every EndpointSlice labelled with the service's name, ordered by slice name.</summary>
    internal ImmutableArray<EndpointSlice> Slices { get; init; }

    /// <summary>The resourceVersion the slices were read at: the scope's last slice list or event when this was taken.</summary>
    internal string? SlicesVersion { get; init; }

    /// <summary>The resourceVersion the Service was read at, like <see cref="SlicesVersion"/>.</summary>
    internal string? ServicesVersion { get; init; }

    /// <summary>
    /// The endpoints behind one port of the Service: in each slice, the slice port with the Service port's name and
    /// protocol gives the target port (a named <c>targetPort</c> resolves per pod, so slices may differ); IPv4 and IPv6
    /// slices both count; each endpoint keeps its conditions (ready, serving, terminating), zone, node and topology hints;
    /// an address+port in several slices appears once, the ready copy winning. Endpoints whose address is refused by the
    /// address rule (<see cref="Endpoints.EndpointAddress"/>; loopback only when <paramref name="allowLoopback"/>) are left
    /// out and reported to <paramref name="dropped"/> (the record, the reason).
    /// </summary>
    /// <param name="port">A port of <see cref="ServiceInfo"/>.</param>
    /// <param name="allowLoopback">Whether loopback addresses are usable endpoints.</param>
    /// <param name="dropped">Told of each endpoint left out: the record (slice and address) and why.</param>
    public IReadOnlyList<Endpoint> MapEndpoints(KubernetesServicePort port, bool allowLoopback = false, Action<string, string>? dropped = null)
    {
        ArgumentNullException.ThrowIfNull(port);
        return EndpointMapper.Map(Slices, PortChoice.Of(port), allowLoopback, dropped);
    }

    /// <summary>
    /// How <paramref name="name"/> (its port, named or numbered, or its scheme) maps through these slices, endpoint by
    /// endpoint: the Kubernetes source's own port choice and mapping, for tools that explain a resolution.
    /// </summary>
    /// <param name="name">A name of this service.</param>
    /// <param name="allowLoopback">Whether loopback addresses are usable endpoints.</param>
    public ServiceNameMapping Explain(ServiceName name, bool allowLoopback = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ServiceNameMapper.Map(name, Service, Slices, allowLoopback);
    }

    /// <summary>Reads one service once: the Service by name and its EndpointSlices by label (two lists, no watch).</summary>
    /// <exception cref="KubernetesApiException">A list failed (e.g. 403 when the credentials may not list them).</exception>
    public static async Task<ServiceSlices> ReadAsync(KubernetesApiClient api, string ns, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(api);
        KubernetesList<Service> services = await api.ListServicesAsync(ns, new ListOptions(FieldSelector: "metadata.name=" + name), cancellationToken).ConfigureAwait(false);
        KubernetesList<EndpointSlice> slices = await api.ListEndpointSlicesAsync(ns, new ListOptions(EndpointSliceCache.ServiceNameLabel + "=" + name), cancellationToken).ConfigureAwait(false);
        return new ServiceSlices(ns, name, services.Items.FirstOrDefault(), [.. slices.Items.OrderBy(static s => s.Metadata.Name, StringComparer.Ordinal)], Synced: true);
    }

    internal static ServiceSlices Empty(string ns, string name) => new(ns, name, null, [], false);

    /// <summary>
    /// Whether this state, read by another scope, may replace <paramref name="current"/> without going back in time:
    /// it is listed, and its slices and its Service are each either the very objects of <paramref name="current"/>
    /// (same resourceVersions) or were read at a resourceVersion at least as high. Two scopes of the same objects see
    /// the same changes in the same order, only not at the same moment.
    /// </summary>
    internal bool CanReplace(ServiceSlices current)
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
