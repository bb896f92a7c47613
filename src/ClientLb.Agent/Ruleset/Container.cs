using System.Globalization;

namespace ClientLb.Agent.Ruleset;

/// <summary>What an nftables set or map of the layout holds.</summary>
internal enum ContainerKind
{
    /// <summary>
    /// <c>eps-N</c> (shard N): VIP . proto . port . slot range (numgen) to endpoint address . target port; for the services
    /// the indexed maps cannot hold (weighted endpoints, more than <see cref="Layout.MaxIndexed"/>, IPv6 affinity).
    /// </summary>
    Endpoints,

    /// <summary>
    /// <c>epx</c>: VIP . proto . port . index to endpoint address . target port, indexes 0..n-1 (a hash map: adding or
    /// deleting one element costs the same whatever its size, unlike an interval map).
    /// </summary>
    Indexed,

    /// <summary><c>cnt</c>: VIP . proto . port . n, the number of indexed endpoints; rule n draws <c>numgen random mod n</c>.</summary>
    IndexCount,

    /// <summary><c>grp</c>: VIP . proto . port . g, the group of 8 counts its <c>cnt</c> element is in (8 lookups at most per group).</summary>
    IndexGroup,

    /// <summary><c>eps-aff-N</c> (shard N, IPv4): the same for ClientIP-affinity services, keyed on the slot carried in <c>ct mark</c>.</summary>
    AffinityEndpoints,

    /// <summary><c>noep</c>: VIP . proto . port of service ports with no eligible endpoint: rejected at once.</summary>
    NoEndpoints,

    /// <summary><c>affinity</c>: VIP . proto . port of services with ClientIP affinity.</summary>
    Affinity,

    /// <summary><c>aff-T</c>: the affinity services whose timeout is T seconds (one set per distinct timeout).</summary>
    AffinityTimeout,

    /// <summary><c>hairpin</c>: endpoint . endpoint, masqueraded when a pod reaches itself through a VIP.</summary>
    Hairpin,

    /// <summary>
    /// <c>gen</c>: VIP . proto . port to a 64-bit hash (two marks) of everything the owning service programs, written in
    /// the same transaction as its elements; a restart reads this map instead of the endpoint maps.
    /// </summary>
    Generation,

    /// <summary><c>layout</c>: one element, the hash of the skeleton that created the table (<see cref="Layout.Marker"/>).</summary>
    LayoutMarker,
}

/// <summary>One set or map of one family's table; <paramref name="Index"/> is the shard of an endpoint map or the timeout of an <c>aff-T</c> set.</summary>
internal readonly record struct Container(Family Family, ContainerKind Kind, int Index = 0)
{
    /// <summary>The set's name: fixed words and validated integers only.</summary>
    public string Name => Kind switch
    {
        ContainerKind.Endpoints => "eps-" + Index.ToString(CultureInfo.InvariantCulture),
        ContainerKind.Indexed => "epx",
        ContainerKind.IndexCount => "cnt",
        ContainerKind.IndexGroup => "grp",
        ContainerKind.AffinityEndpoints => "eps-aff-" + Index.ToString(CultureInfo.InvariantCulture),
        ContainerKind.NoEndpoints => "noep",
        ContainerKind.Affinity => "affinity",
        ContainerKind.AffinityTimeout => "aff-" + Index.ToString(CultureInfo.InvariantCulture),
        ContainerKind.Hairpin => "hairpin",
        ContainerKind.Generation => "gen",
        ContainerKind.LayoutMarker => "layout",
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    public override string ToString() => Family.Table + " " + Name;
}

/// <summary>One element (with its data, for a map) in the canonical text both the renderer and the kernel reader produce.</summary>
internal readonly record struct Element(Container Container, string Text);
