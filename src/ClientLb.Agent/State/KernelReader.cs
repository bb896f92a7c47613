using System.Globalization;
using System.Net;
using ClientLb.Agent.Interop;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.State;

/// <summary>
/// Reads what an earlier run left in the kernel, as little of it as possible. When both tables carry this build's
/// <c>layout</c> marker, it reads the <c>gen</c> map (one element per service port) and the small sets, never the endpoint
/// maps; the first sync then lists only the endpoint-map shards of services whose hash changed or that went
/// (<see cref="ReadStaleAsync"/>). Any other table (another layout, an older agent) is listed whole once and rebuilt.
/// Nothing read is kept beyond the element texts the programmed state needs.
/// </summary>
internal static class KernelReader
{
    /// <summary>Fills <paramref name="state"/> from the kernel; returns whether an earlier run's tables were found.</summary>
    public static async Task<bool> ReadAsync(INftablesRunner runner, AgentMode mode, ProgrammedState state, CancellationToken cancellationToken)
    {
        var markers = new bool?[Family.All.Count];
        for (int f = 0; f < Family.All.Count; f++)
        {
            Family family = Family.All[f];
            string? listing = await runner.ListSetJsonAsync(family.NftFamily, "layout", cancellationToken: cancellationToken).ConfigureAwait(false);
            markers[f] = listing is null
                ? null
                : KernelTable.Parse(listing).Sets.TryGetValue("layout", out KernelSet? set) &&
                  set.Elements.SequenceEqual([Layout.Marker(mode, family).ToString(CultureInfo.InvariantCulture)]);
        }
        if (markers.All(m => m == true))
        {
            await ReadMarkedAsync(runner, state, cancellationToken).ConfigureAwait(false);
            return true;
        }
        string? v4 = await runner.ListTableJsonAsync(Family.V4.NftFamily, cancellationToken).ConfigureAwait(false);
        string? v6 = await runner.ListTableJsonAsync(Family.V6.NftFamily, cancellationToken).ConfigureAwait(false);
        state.Load(v4 is null ? null : KernelTable.Parse(v4), v6 is null ? null : KernelTable.Parse(v6));
        return v4 is not null || v6 is not null;
    }

    /// <summary>
    /// Lists the endpoint-map shards holding the elements of <paramref name="keys"/> (VIP . proto . port of services whose
    /// <c>gen</c> entry no desired service matched) and adds those elements, and the hairpin entries of their endpoints,
    /// to the programmed state as present, so the sync deletes what is no longer wanted.
    /// </summary>
    public static async Task ReadStaleAsync(INftablesRunner runner, ProgrammedState state, IReadOnlyCollection<(Family Family, string Key)> keys, CancellationToken cancellationToken)
    {
        foreach (IGrouping<Container, string> shard in keys.GroupBy(k => new Container(k.Family, ContainerKind.Endpoints, Layout.Shard(IPAddress.Parse(k.Key[..k.Key.IndexOf(' ', StringComparison.Ordinal)]))), k => k.Key))
        {
            Family family = shard.Key.Family;
            var prefixes = shard.Select(k => k + " . ").ToList();
            var containers = new List<Container> { shard.Key };
            if (Layout.StatefulAffinity(family))
            {
                containers.Add(new Container(family, ContainerKind.AffinityEndpoints, shard.Key.Index));
            }
            foreach (Container container in containers)
            {
                string? listing = await runner.ListSetJsonAsync(family.NftFamily, container.Name, map: true, cancellationToken).ConfigureAwait(false);
                if (listing is null || !KernelTable.Parse(listing).Sets.TryGetValue(container.Name, out KernelSet? set))
                {
                    continue;
                }
                HashSet<string> kernel = state.KernelSet(container);
                HashSet<string> hairpin = state.KernelSet(new Container(family, ContainerKind.Hairpin));
                foreach (string element in set.Elements.Where(e => prefixes.Any(p => e.StartsWith(p, StringComparison.Ordinal))))
                {
                    kernel.Add(element);
                    // The data is "endpoint . target port"; every programmed endpoint has its hairpin entry.
                    string endpoint = element[(element.IndexOf(" : ", StringComparison.Ordinal) + 3)..];
                    endpoint = endpoint[..endpoint.IndexOf(' ', StringComparison.Ordinal)];
                    hairpin.Add(endpoint + " . " + endpoint);
                }
            }
        }
        state.StaleRead = true;
    }

    private static async Task ReadMarkedAsync(INftablesRunner runner, ProgrammedState state, CancellationToken cancellationToken)
    {
        foreach (Family family in Family.All)
        {
            var small = new List<Container> { new(family, ContainerKind.Generation), new(family, ContainerKind.NoEndpoints), new(family, ContainerKind.Affinity) };
            string? declarations = await runner.ListSetJsonAsync(family.NftFamily, null, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (declarations is not null)
            {
                foreach (string name in KernelTable.Parse(declarations).Sets.Keys)
                {
                    if (Skeleton.TryContainer(family, name, out Container container) && container.Kind == ContainerKind.AffinityTimeout)
                    {
                        small.Add(container);
                        state.DeclaredTimeouts.Add(container.Index);
                    }
                }
            }
            foreach (Container container in small)
            {
                bool map = container.Kind == ContainerKind.Generation;
                string? listing = await runner.ListSetJsonAsync(family.NftFamily, container.Name, map, cancellationToken).ConfigureAwait(false);
                if (listing is not null && KernelTable.Parse(listing).Sets.TryGetValue(container.Name, out KernelSet? set))
                {
                    state.KernelSet(container).UnionWith(set.Elements);
                }
            }
        }
        state.SnapshotRead = true;
        state.SkeletonApplied = true;
        state.TrustsGenerations = true;
    }
}
