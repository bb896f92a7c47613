using System.Globalization;
using System.Text;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Ruleset;

/// <summary>
/// The fixed part of the ruleset: one table per family, a handful of sets and maps that hold all per-service data, and
/// a handful of chains whose rules never change with services. No chain is ever created per service (see docs/agent.md:
/// libnftables re-reads the chain cache before every command once chains are many, ~10 ms at 10,000).
/// </summary>
internal static class Layout
{
    public const string TableName = "clientlb";

    /// <summary>The dynamic map of ClientIP affinity: client . VIP . proto . port to the slot drawn for the first connection.</summary>
    public const string ClientsMap = "clients";

    /// <summary>Most client entries the affinity map holds (per family).</summary>
    public const int ClientsMapSize = 262144;

    /// <summary>
    /// The interval endpoint maps (services the indexed maps cannot hold) are split in this many shards by the low 3 bits
    /// of the VIP. Measured with nft 1.0.6: deleting one element of an interval map costs O(elements in that map), but
    /// every set of the table also costs each element command ~4 us of libnftables' cache (128 maps: 0.7 ms a command),
    /// so the shards are few now that most services live in the indexed hash map.
    /// </summary>
    public const int Shards = 8;

    /// <summary>
    /// Most endpoints a service port has in the indexed maps (<c>numgen random mod n</c>, one rule per n). Every rule of
    /// the table costs each later command ~1.6 us of libnftables' cache (measured: a delete took 0.21 ms with 72 rules,
    /// 0.53 ms with 272), so the count rules are kept to 64 + 8.
    /// </summary>
    public const int MaxIndexed = 64;

    /// <summary>Counts per group rule: a new connection makes at most 64 / 8 + 8 set lookups to find its count.</summary>
    public const int IndexGroupSize = 8;

    /// <summary>
    /// Whether endpoints get <c>hairpin</c> entries in <paramref name="mode"/>. Only node mode needs them: a pod's packet
    /// to a VIP that DNATs to the same pod is forwarded back out of the veth it came in on, and without masquerade the pod
    /// would answer itself directly. In sidecar mode the connection starts in the pod's own namespace, so DNAT to its own
    /// address is local delivery and conntrack undoes it on the reply: nothing to masquerade (TrafficTests:
    /// a pod reaching itself through its VIP is answered), and half of the elements at 50 endpoints a service are saved.
    /// </summary>
    public static bool Hairpin(AgentMode mode) => mode == AgentMode.Node;

    /// <summary>The shard of a VIP: its last byte's low 3 bits, what <c>daddr &amp; 0.0.0.7</c> (<c>&amp; ::7</c>) selects.</summary>
    public static int Shard(System.Net.IPAddress vip)
    {
        byte[] bytes = vip.GetAddressBytes();
        return bytes[^1] & (Shards - 1);
    }

    /// <summary>The sets and maps every table has (the <c>aff-T</c> sets come and go with the timeouts in use).</summary>
    public static IEnumerable<Container> FixedContainers(Family f)
    {
        for (int shard = 0; shard < Shards; shard++)
        {
            yield return new Container(f, ContainerKind.Endpoints, shard);
        }
        if (StatefulAffinity(f))
        {
            for (int shard = 0; shard < Shards; shard++)
            {
                yield return new Container(f, ContainerKind.AffinityEndpoints, shard);
            }
        }
        yield return new Container(f, ContainerKind.Indexed);
        yield return new Container(f, ContainerKind.IndexCount);
        yield return new Container(f, ContainerKind.IndexGroup);
        yield return new Container(f, ContainerKind.NoEndpoints);
        yield return new Container(f, ContainerKind.Affinity);
        yield return new Container(f, ContainerKind.Hairpin);
        yield return new Container(f, ContainerKind.Generation);
        yield return new Container(f, ContainerKind.LayoutMarker);
    }

    /// <summary>
    /// The value of the <c>layout</c> set: a hash of the skeleton this build declares for <paramref name="mode"/> and
    /// <paramref name="f"/> (sets, chains, rules; no timeouts). A restart that finds it unchanged trusts the chains and the
    /// endpoint maps as they are and reads only the <c>gen</c> map; any other value means another layout, rebuilt.
    /// </summary>
    public static uint Marker(AgentMode mode, Family f)
    {
        var text = new StringBuilder();
        Skeleton.AppendStructure(text, mode, f, null, []);
        ulong hash = Fnv.Hash(Fnv.Offset, text.ToString());
        return (uint)(hash ^ (hash >> 32));
    }

    /// <summary>The body of a set or map declaration.</summary>
    public static string Declaration(Container container)
    {
        Family f = container.Family;
        string key3 = $"{f.AddressType} . inet_proto . inet_service";
        string numbered = $"typeof {f.Payload} daddr . meta l4proto . th dport . numgen random mod 65536";
        return container.Kind switch
        {
            ContainerKind.Endpoints => $"{numbered} : {f.Payload} daddr . th dport; flags interval;",
            ContainerKind.Indexed => $"{numbered} : {f.Payload} daddr . th dport;",
            ContainerKind.IndexCount or ContainerKind.IndexGroup => numbered + ";",
            ContainerKind.AffinityEndpoints => $"type {key3} . mark : {f.AddressType} . inet_service; flags interval;",
            ContainerKind.NoEndpoints or ContainerKind.Affinity or ContainerKind.AffinityTimeout => $"type {key3};",
            ContainerKind.Hairpin => $"type {f.AddressType} . {f.AddressType};",
            ContainerKind.Generation => $"type {key3} : mark . mark;",
            ContainerKind.LayoutMarker => "type mark;",
            _ => throw new ArgumentOutOfRangeException(nameof(container)),
        };
    }

    /// <summary>
    /// The components of a container's element key and data as <see cref="Declaration"/> types them, for writing elements
    /// over netlink (<see cref="Interop.NetlinkElements"/>) in the kernel's own encoding.
    /// </summary>
    public static (ElementPart[] Key, ElementPart[] Data, bool Interval) Parts(ContainerKind kind) => kind switch
    {
        ContainerKind.Endpoints => (NumberedKey, AddressAndPort, true),
        ContainerKind.Indexed => (NumberedKey, AddressAndPort, false),
        ContainerKind.IndexCount or ContainerKind.IndexGroup => (NumberedKey, [], false),
        ContainerKind.AffinityEndpoints => ([ElementPart.Address, ElementPart.Protocol, ElementPart.Service, ElementPart.Mark], AddressAndPort, true),
        ContainerKind.NoEndpoints or ContainerKind.Affinity or ContainerKind.AffinityTimeout => ([ElementPart.Address, ElementPart.Protocol, ElementPart.Service], [], false),
        ContainerKind.Hairpin => ([ElementPart.Address, ElementPart.Address], [], false),
        ContainerKind.Generation => ([ElementPart.Address, ElementPart.Protocol, ElementPart.Service], [ElementPart.Mark, ElementPart.Mark], false),
        ContainerKind.LayoutMarker => ([ElementPart.Mark], [], false),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static readonly ElementPart[] NumberedKey = [ElementPart.Address, ElementPart.Protocol, ElementPart.Service, ElementPart.Integer];
    private static readonly ElementPart[] AddressAndPort = [ElementPart.Address, ElementPart.Service];

    /// <summary>How the kernel listing (JSON) describes a container declared with <see cref="Declaration"/>: key types | data type | flags.</summary>
    public static string Signature(Container container)
    {
        Family f = container.Family;
        string key3 = $"{f.AddressType},inet_proto,inet_service";
        return container.Kind switch
        {
            ContainerKind.Endpoints => $"{key3},integer|{f.AddressType} . inet_service|interval",
            ContainerKind.Indexed => $"{key3},integer|{f.AddressType} . inet_service|",
            ContainerKind.IndexCount or ContainerKind.IndexGroup => $"{key3},integer||",
            ContainerKind.AffinityEndpoints => $"{key3},mark|{f.AddressType} . inet_service|interval",
            ContainerKind.NoEndpoints or ContainerKind.Affinity or ContainerKind.AffinityTimeout => $"{key3}||",
            ContainerKind.Hairpin => $"{f.AddressType},{f.AddressType}||",
            ContainerKind.Generation => $"{key3}|mark . mark|",
            ContainerKind.LayoutMarker => "mark||",
            _ => throw new ArgumentOutOfRangeException(nameof(container)),
        };
    }

    /// <summary>The affinity map's declaration (IPv4 only): client . VIP . proto . port to the slot of the first connection.</summary>
    public static string ClientsDeclaration(Family f) =>
        $"type {f.AddressType} . {f.AddressType} . inet_proto . inet_service : mark; flags dynamic,timeout; size {ClientsMapSize.ToString(CultureInfo.InvariantCulture)};";

    /// <summary>How the kernel listing describes the affinity map (the JSON shows <c>timeout</c>, not <c>dynamic</c>).</summary>
    public static string ClientsSignature(Family f) => $"{f.AddressType},{f.AddressType},inet_proto,inet_service|mark|timeout";

    /// <summary>
    /// Whether ClientIP affinity is stateful (a dynamic map with the Service's timeout) in this family. IPv6 is not: nft
    /// 1.0.6 aborts (netlink_linearize.c assertion, the whole process) on a dynamic-map update whose key exceeds 16 bytes,
    /// and segfaults listing a map declared by <c>typeof jhash</c>. IPv6 affinity is therefore stateless:
    /// <c>jhash ip6 saddr</c> picks the slot, so a client keeps its endpoint while the endpoint set is unchanged, without expiry.
    /// </summary>
    public static bool StatefulAffinity(Family f) => f == Family.V4;

    /// <summary>The chains of a mode and family: name and base-chain definition (null for a regular chain).</summary>
    public static IReadOnlyList<(string Name, string? Hook)> Chains(AgentMode mode, Family f)
    {
        var chains = new List<(string, string?)> { ("filter-output", "type filter hook output priority -110; policy accept;") };
        if (mode == AgentMode.Node)
        {
            chains.Add(("filter-forward", "type filter hook forward priority -110; policy accept;"));
            chains.Add(("nat-prerouting", "type nat hook prerouting priority -100; policy accept;"));
        }
        chains.Add(("nat-output", "type nat hook output priority -100; policy accept;"));
        chains.Add(("nat-postrouting", "type nat hook postrouting priority 100; policy accept;"));
        chains.Add(("services", null));
        if (StatefulAffinity(f))
        {
            chains.Add(("affinity", null));
        }
        for (int group = 0; group < MaxIndexed / IndexGroupSize; group++)
        {
            chains.Add(("idx-" + group.ToString(CultureInfo.InvariantCulture), null));
        }
        for (int shard = 0; shard < Shards; shard++)
        {
            chains.Add(("svc-" + shard.ToString(CultureInfo.InvariantCulture), null));
        }
        return chains;
    }

    /// <summary>The rules of a chain (the affinity chain depends on the timeouts in use).</summary>
    public static IReadOnlyList<string> Rules(Family f, string chain, IEnumerable<int> affinityTimeouts)
    {
        string p = f.Payload;
        string service = $"{p} daddr . meta l4proto . th dport";
        switch (chain)
        {
            case "filter-output" or "filter-forward":
                return
                [
                    $"meta l4proto tcp {service} @noep reject with tcp reset",
                    $"meta l4proto {{ udp, sctp }} {service} @noep reject",
                ];
            case "nat-prerouting" or "nat-output":
                return ["jump services"];
            case "nat-postrouting":
                // IPv4 also masquerades DNATed connections from 127.0.0.0/8: a 127/8 VIP (sidecar mode) is reached from a
                // loopback source, which must not leave the namespace (kube-proxy's rule for localhost NodePorts).
                return f == Family.V4
                    ? [$"ct status dnat {p} saddr . {p} daddr @hairpin masquerade", "ct status dnat ip saddr 127.0.0.0/8 masquerade"]
                    : [$"ct status dnat {p} saddr . {p} daddr @hairpin masquerade"];
            case "services":
                string mask = f == Family.V4 ? "0.0.0." + (Shards - 1).ToString(CultureInfo.InvariantCulture) : "::" + (Shards - 1).ToString("x", CultureInfo.InvariantCulture);
                string shards = string.Join(", ", Enumerable.Range(0, Shards).Select(k =>
                    (f == Family.V4 ? "0.0.0." + k.ToString(CultureInfo.InvariantCulture) : "::" + k.ToString("x", CultureInfo.InvariantCulture)) +
                    " : goto svc-" + k.ToString(CultureInfo.InvariantCulture)));
                var dispatch = new List<string> { "meta l4proto != { tcp, udp, sctp } return" };
                // Indexed services first: the group of the endpoint count, then (idx-G) the count itself. "numgen random
                // mod 1 offset C" is the constant C typed as numgen's integer: nft 1.0.6 parses no bare constant in a
                // concatenation, and the key type must match the typeof sets.
                for (int group = 0; group < MaxIndexed / IndexGroupSize; group++)
                {
                    string g = group.ToString(CultureInfo.InvariantCulture);
                    dispatch.Add($"{service} . numgen random mod 1 offset {g} @grp jump idx-{g}");
                }
                dispatch.Add($"{p} daddr & {mask} vmap {{ {shards} }}");
                return dispatch;
            case not null when chain.StartsWith("idx-", StringComparison.Ordinal):
                int first = int.Parse(chain.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture) * IndexGroupSize + 1;
                return [.. Enumerable.Range(first, IndexGroupSize).Select(n =>
                {
                    string count = n.ToString(CultureInfo.InvariantCulture);
                    return $"{service} . numgen random mod 1 offset {count} @cnt meta l4proto {{ tcp, udp, sctp }} dnat {p} to {service} . numgen random mod {count} map @epx";
                })];
            case "affinity":
                var rules = new List<string>();
                foreach (int timeout in affinityTimeouts.Order())
                {
                    string t = timeout.ToString(CultureInfo.InvariantCulture);
                    rules.Add($"{service} @aff-{t} update @{ClientsMap} {{ {p} saddr . {service} timeout {t}s : numgen random mod 65536 }}");
                }
                rules.Add($"ct mark set {p} saddr . {service} map @{ClientsMap}");
                return rules;
            case not null when chain.StartsWith("svc-", StringComparison.Ordinal):
                string k = chain[4..];
                string random = $"meta l4proto {{ tcp, udp, sctp }} dnat {p} to {service} . numgen random mod 65536 map @eps-{k}";
                return StatefulAffinity(f)
                    ?
                    [
                        $"{service} @affinity jump affinity",
                        $"{service} @affinity meta l4proto {{ tcp, udp, sctp }} dnat {p} to {service} . ct mark map @eps-aff-{k}",
                        random,
                    ]
                    :
                    [
                        $"{service} @affinity meta l4proto {{ tcp, udp, sctp }} dnat {p} to {service} . jhash {p} saddr mod 65536 seed 0x636c62 map @eps-{k}",
                        random,
                    ];
            default:
                throw new ArgumentOutOfRangeException(nameof(chain), chain, "Not a chain of the layout.");
        }
    }

    /// <summary>
    /// Appends <c>add element</c>/<c>delete element</c> commands, at most <paramref name="perCommand"/> elements each. Many
    /// commands still make one transaction. Measured with nft 1.0.6: one command with ~1,900 or more interval elements
    /// fails with "File exists" (no element overlaps; the same elements in commands of 1,000 load), hence 500.
    /// </summary>
    public static void AppendElements(StringBuilder text, string verb, Container container, IReadOnlyList<string> elements, int perCommand = 500)
    {
        for (int start = 0; start < elements.Count; start += perCommand)
        {
            text.Append(verb).Append(" element ").Append(container.Family.Table).Append(' ').Append(container.Name).Append(" { ");
            int end = Math.Min(elements.Count, start + perCommand);
            for (int i = start; i < end; i++)
            {
                if (i > start)
                {
                    text.Append(", ");
                }
                text.Append(elements[i]);
            }
            text.Append(" }\n");
        }
    }
}

/// <summary>The type of one component of an element, as the kernel stores it (each padded to 4 bytes).</summary>
internal enum ElementPart
{
    /// <summary><c>ipv4_addr</c> or <c>ipv6_addr</c> (the table's family), network order.</summary>
    Address,

    /// <summary><c>inet_proto</c>: one byte.</summary>
    Protocol,

    /// <summary><c>inet_service</c>: two bytes, network order.</summary>
    Service,

    /// <summary>The 32-bit integer of <c>numgen</c> (host order; a number or, in an interval set, <c>low-high</c>).</summary>
    Integer,

    /// <summary><c>mark</c>: 32 bits, host order (a number or, in an interval set, <c>low-high</c>).</summary>
    Mark,
}
