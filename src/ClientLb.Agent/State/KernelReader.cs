using System.Globalization;
using System.Net;
using ClientLb.Agent.Interop;
using ClientLb.Agent.Model;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.State;

/// <summary>
/// Reads what an earlier run left in the kernel, as little of it as possible. When both tables carry this build's
/// <c>layout</c> marker, it reads the <c>gen</c> map (one element per service port) and the set names, never the endpoint
/// maps; only when services changed or went while it was down does the first sync read the small per-port sets and
/// those services' endpoint elements (<see cref="ReadStaleAsync"/>). Any other table (another layout, an older agent) is listed whole once and rebuilt.
/// Nothing read is kept beyond the element texts the programmed state needs.
/// </summary>
internal static class KernelReader
{
    /// <summary>Fills <paramref name="state"/> from the kernel; returns whether an earlier run's tables were found.</summary>
    public static async Task<bool> ReadAsync(INftablesRunner runner, AgentMode mode, ProgrammedState state, CancellationToken cancellationToken)
    {
        bool?[] markers = new bool?[Family.All.Count];
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
    /// Reads the endpoint elements of <paramref name="keys"/> (VIP . proto . port of services whose <c>gen</c> entry no
    /// desired service matched) and adds them, and the hairpin entries of their endpoints, to the programmed state as
    /// present, so the sync deletes what is no longer wanted. An indexed port (its count is in <c>cnt</c>) is read with one
    /// <c>get element</c> of its n keys; the others from the listing of their interval shard.
    /// </summary>
    public static async Task ReadStaleAsync(INftablesRunner runner, AgentMode mode, ProgrammedState state, IReadOnlyCollection<(Family Family, string Key)> keys, CancellationToken cancellationToken)
    {
        bool hairpin = Layout.Hairpin(mode);
        await ReadSmallSetsAsync(runner, state, cancellationToken).ConfigureAwait(false);
        var intervalKeys = new List<(Family Family, string Key)>();
        foreach ((Family family, string key) in keys)
        {
            if (!TryParseKey(key, out IPAddress? _))
            {
                continue; // not a key this layout writes: nothing of ours to read for it
            }
            string? count = state.KernelSet(new Container(family, ContainerKind.IndexCount))
                .FirstOrDefault(e => e.StartsWith(key + " . ", StringComparison.Ordinal));
            if (count is null)
            {
                intervalKeys.Add((family, key));
                continue;
            }
            int n = int.Parse(count.AsSpan(key.Length + 3), NumberStyles.None, CultureInfo.InvariantCulture);
            var indexed = new Container(family, ContainerKind.Indexed);
            string[] wanted = [.. Enumerable.Range(0, n).Select(i => key + " . " + i.ToString(CultureInfo.InvariantCulture))];
            string? text = await runner.GetElementsAsync(family.NftFamily, indexed.Name, wanted, cancellationToken).ConfigureAwait(false);
            if (text is null)
            {
                // Some index is missing (the table was edited by hand): read the whole map once rather than guess.
                string? listing = await runner.ListSetJsonAsync(family.NftFamily, indexed.Name, map: true, cancellationToken).ConfigureAwait(false);
                AddFound(state, indexed, listing is null ? [] : KernelTable.Parse(listing).Sets.GetValueOrDefault(indexed.Name)?.Elements ?? [], [key + " . "], hairpin);
                continue;
            }
            AddFound(state, indexed, ParseElementsText(text), [key + " . "], hairpin);
        }
        foreach (IGrouping<Container, string> shard in intervalKeys.GroupBy(k => new Container(k.Family, ContainerKind.Endpoints, Layout.Shard(IPAddress.Parse(k.Key[..k.Key.IndexOf(' ', StringComparison.Ordinal)]))), k => k.Key))
        {
            Family family = shard.Key.Family;
            var containers = new List<Container> { shard.Key };
            if (Layout.StatefulAffinity(family))
            {
                containers.Add(new Container(family, ContainerKind.AffinityEndpoints, shard.Key.Index));
            }
            foreach (Container container in containers)
            {
                string? listing = await runner.ListSetJsonAsync(family.NftFamily, container.Name, map: true, cancellationToken).ConfigureAwait(false);
                if (listing is not null && KernelTable.Parse(listing).Sets.TryGetValue(container.Name, out KernelSet? set))
                {
                    AddFound(state, container, set.Elements, [.. shard.Select(k => k + " . ")], hairpin);
                }
            }
        }
        state.StaleRead = true;
    }

    /// <summary>The elements of nft's text output (<c>elements = { a : b, c : d }</c>), addresses in canonical form.</summary>
    public static List<string> ParseElementsText(string text)
    {
        int start = text.IndexOf("elements = {", StringComparison.Ordinal);
        if (start < 0)
        {
            return [];
        }
        start += "elements = {".Length;
        int end = text.IndexOf('}', start);
        return [.. text[start..end].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(e => string.Join(' ', e.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries)
                .Select(token => IPAddress.TryParse(token, out IPAddress? address) && token.Contains(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? '.' : ':')
                    ? address.ToString()
                    : token)))];
    }

    private static void AddFound(ProgrammedState state, Container container, IEnumerable<string> elements, IReadOnlyList<string> prefixes, bool withHairpin)
    {
        HashSet<string> kernel = state.KernelSet(container);
        HashSet<string> hairpin = state.KernelSet(new Container(container.Family, ContainerKind.Hairpin));
        foreach (string element in elements.Where(e => prefixes.Any(p => e.StartsWith(p, StringComparison.Ordinal))))
        {
            kernel.Add(element);
            if (!withHairpin)
            {
                continue;
            }
            // The data is "endpoint . target port"; in node mode every programmed endpoint has its hairpin entry.
            string endpoint = element[(element.IndexOf(" : ", StringComparison.Ordinal) + 3)..];
            endpoint = endpoint[..endpoint.IndexOf(' ', StringComparison.Ordinal)];
            hairpin.Add(endpoint + " . " + endpoint);
        }
    }

    /// <summary>A gen key as this layout writes it: address . tcp|udp|sctp . port.</summary>
    private static bool TryParseKey(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? vip)
    {
        string[] parts = key.Split(" . ");
        vip = null;
        return parts.Length == 3 && IPAddress.TryParse(parts[0], out vip) && vip.ToString() == parts[0] &&
            parts[1] is "tcp" or "udp" or "sctp" &&
            int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535;
    }

    private static async Task ReadMarkedAsync(INftablesRunner runner, ProgrammedState state, CancellationToken cancellationToken)
    {
        foreach (Family family in Family.All)
        {
            string? declarations = await runner.ListSetJsonAsync(family.NftFamily, null, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (declarations is not null)
            {
                foreach (string name in KernelTable.Parse(declarations).Sets.Keys)
                {
                    if (Skeleton.TryContainer(family, name, out Container container) && container.Kind == ContainerKind.AffinityTimeout)
                    {
                        state.DeclaredTimeouts.Add(container.Index);
                    }
                }
            }
            await ReadWholeAsync(runner, state, new Container(family, ContainerKind.Generation), cancellationToken).ConfigureAwait(false);
        }
        state.SnapshotRead = true;
        state.SkeletonApplied = true;
        state.TrustsGenerations = true;
    }

    /// <summary>
    /// The small sets a stale service may have elements in (one element per service port each): read whole, only when a
    /// restart found stale services. Matching services' elements in them are known without reading (their gen hash vouches for them).
    /// </summary>
    private static async Task ReadSmallSetsAsync(INftablesRunner runner, ProgrammedState state, CancellationToken cancellationToken)
    {
        foreach (Family family in Family.All)
        {
            var small = new List<Container>
            {
                new(family, ContainerKind.IndexCount), new(family, ContainerKind.IndexGroup),
                new(family, ContainerKind.NoEndpoints), new(family, ContainerKind.Affinity),
            };
            small.AddRange(state.DeclaredTimeouts.Select(t => new Container(family, ContainerKind.AffinityTimeout, t)).Where(c => Layout.StatefulAffinity(family)));
            foreach (Container container in small)
            {
                await ReadWholeAsync(runner, state, container, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task ReadWholeAsync(INftablesRunner runner, ProgrammedState state, Container container, CancellationToken cancellationToken)
    {
        bool map = container.Kind is ContainerKind.Generation or ContainerKind.Indexed or ContainerKind.Endpoints or ContainerKind.AffinityEndpoints;
        string? listing = await runner.ListSetJsonAsync(container.Family.NftFamily, container.Name, map, cancellationToken).ConfigureAwait(false);
        if (listing is not null && KernelTable.Parse(listing).Sets.TryGetValue(container.Name, out KernelSet? set))
        {
            state.KernelSet(container).UnionWith(set.Elements);
        }
    }
}
