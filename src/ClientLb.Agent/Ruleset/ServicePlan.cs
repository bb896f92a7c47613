using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using ClientLb.Agent.Model;
using ClientLb.Agent.Validation;

namespace ClientLb.Agent.Ruleset;

/// <summary>The backends of one connectionless service port, kept to clean conntrack entries when they change.</summary>
internal sealed record ConntrackPort(IPAddress Vip, ServiceProtocol Protocol, int Port, ImmutableArray<Target> Targets);

/// <summary>Everything one validated service contributes to the ruleset: elements only, never rules or chains.</summary>
internal sealed record ServicePlan(string Key, ImmutableArray<Element> Elements, ImmutableArray<ConntrackPort> ConntrackPorts, int? AffinityTimeout)
{
    public static ServicePlan Empty(string key) => new(key, [], [], null);

    /// <summary>The VIP . proto . port keys (both families) this plan claims, to detect two services on one VIP port.</summary>
    public ImmutableArray<string> Claims { get; init; } = [];

    /// <summary>
    /// Renders the elements of <paramref name="service"/>. Every value is a parsed address, an integer or a keyword.
    /// <paramref name="hairpin"/>: add each endpoint's <c>hairpin</c> entry (node mode; see <see cref="Layout.Hairpin"/>).
    /// </summary>
    public static ServicePlan For(ValidatedService service, bool hairpin)
    {
        ImmutableArray<Element>.Builder elements = ImmutableArray.CreateBuilder<Element>();
        ImmutableArray<ConntrackPort>.Builder conntrack = ImmutableArray.CreateBuilder<ConntrackPort>();
        var keys = new List<(Family Family, string Key)>();
        int? timeout = service.AffinityTimeoutSeconds;
        foreach (ValidatedPort port in service.Ports)
        {
            Family family = Family.Of(port.Family);
            string key = $"{port.Vip} . {ServiceProtocols.Keyword(port.Protocol)} . {port.Port.ToString(CultureInfo.InvariantCulture)}";
            keys.Add((family, key));
            bool stateful = timeout is not null && Layout.StatefulAffinity(family);
            if (timeout is int t)
            {
                elements.Add(new Element(new Container(family, ContainerKind.Affinity), key));
                if (stateful)
                {
                    elements.Add(new Element(new Container(family, ContainerKind.AffinityTimeout, t), key));
                }
            }
            if (port.Targets.IsEmpty)
            {
                elements.Add(new Element(new Container(family, ContainerKind.NoEndpoints), key));
            }
            else if (timeout is null && Indexable(port.Targets))
            {
                // One hash-map element per endpoint, index i; rule n of idx-G draws numgen random mod n.
                var indexed = new Container(family, ContainerKind.Indexed);
                for (int i = 0; i < port.Targets.Length; i++)
                {
                    Target target = port.Targets[i];
                    string address = target.Address.ToString();
                    elements.Add(new Element(indexed, $"{key} . {i.ToString(CultureInfo.InvariantCulture)} : {address} . {target.Port.ToString(CultureInfo.InvariantCulture)}"));
                    if (hairpin)
                    {
                        elements.Add(new Element(new Container(family, ContainerKind.Hairpin), $"{address} . {address}"));
                    }
                }
                int count = port.Targets.Length;
                elements.Add(new Element(new Container(family, ContainerKind.IndexCount), $"{key} . {count.ToString(CultureInfo.InvariantCulture)}"));
                elements.Add(new Element(new Container(family, ContainerKind.IndexGroup), $"{key} . {((count - 1) / Layout.IndexGroupSize).ToString(CultureInfo.InvariantCulture)}"));
            }
            else
            {
                var eps = new Container(family, stateful ? ContainerKind.AffinityEndpoints : ContainerKind.Endpoints, Layout.Shard(port.Vip));
                (int Low, int High)[] ranges = SlotRanges.Split(port.Targets.Select(t => t.Weight).ToArray());
                for (int i = 0; i < ranges.Length; i++)
                {
                    Target target = port.Targets[i];
                    string address = target.Address.ToString();
                    elements.Add(new Element(eps, $"{key} . {Range(ranges[i])} : {address} . {target.Port.ToString(CultureInfo.InvariantCulture)}"));
                    if (hairpin)
                    {
                        elements.Add(new Element(new Container(family, ContainerKind.Hairpin), $"{address} . {address}"));
                    }
                }
            }
            if (port.Protocol is ServiceProtocol.Udp or ServiceProtocol.Sctp)
            {
                conntrack.Add(new ConntrackPort(port.Vip, port.Protocol, port.Port, port.Targets));
            }
        }
        AddGeneration(elements, keys);
        return new ServicePlan(service.Key, elements.ToImmutable(), conntrack.ToImmutable(), timeout)
        {
            Claims = [.. keys.Select(static k => k.Key).Distinct(StringComparer.Ordinal)],
        };
    }

    /// <summary>
    /// Whether a port's endpoints fit the indexed hash map: equal weights (each index is drawn equally often) and at most
    /// <see cref="Layout.MaxIndexed"/> of them. Others take slot ranges in an interval map.
    /// </summary>
    private static bool Indexable(ImmutableArray<Target> targets) =>
        targets.Length <= Layout.MaxIndexed && targets.All(t => Math.Max(1, t.Weight) == Math.Max(1, targets[0].Weight));

    /// <summary>
    /// One <c>gen</c> element per VIP . proto . port of the service: a hash of all its other elements (in a fixed order),
    /// so a restart that finds the same value knows the service is programmed exactly so, without reading its elements.
    /// </summary>
    private static void AddGeneration(ImmutableArray<Element>.Builder elements, List<(Family Family, string Key)> keys)
    {
        // The hash of the lines "<family> clientlb <set> <element>" in ordinal order, without building those lines.
        var lines = new (string Set, string Text)[elements.Count];
        for (int i = 0; i < lines.Length; i++)
        {
            Container container = elements[i].Container;
            lines[i] = (i > 0 && elements[i - 1].Container == container ? lines[i - 1].Set : container.ToString(), elements[i].Text);
        }
        Array.Sort(lines, static (a, b) => CompareLines(a.Set, a.Text, b.Set, b.Text));
        ulong hash = Fnv.Offset;
        foreach ((string set, string text) in lines)
        {
            hash = Fnv.Hash(Fnv.Append(Fnv.Append(hash, set), " "), text);
        }
        string value = ((uint)(hash >> 32)).ToString(CultureInfo.InvariantCulture) + " . " + ((uint)hash).ToString(CultureInfo.InvariantCulture);
        foreach ((Family family, string key) in keys.Distinct())
        {
            elements.Add(new Element(new Container(family, ContainerKind.Generation), key + " : " + value));
        }
    }

    /// <summary>Orders <c>set + " " + text</c> lines ordinally as if they were concatenated.</summary>
    private static int CompareLines(string setA, string textA, string setB, string textB)
    {
        if (ReferenceEquals(setA, setB) || setA == setB)
        {
            return string.CompareOrdinal(textA, textB);
        }
        int common = Math.Min(setA.Length, setB.Length);
        int order = setA.AsSpan(0, common).SequenceCompareTo(setB.AsSpan(0, common));
        if (order != 0)
        {
            return order;
        }
        // One set name is a prefix of the other (aff-3, aff-30): compare the lines themselves.
        return string.CompareOrdinal(setA + " " + textA, setB + " " + textB);
    }

    /// <summary>The VIP . proto . port of a <c>gen</c> element (its text before <c> : </c>).</summary>
    public static string GenerationKey(string text) => text[..text.IndexOf(" : ", StringComparison.Ordinal)];

    /// <summary><c>low-high</c>, or one number when the range is a single slot (as the kernel lists it).</summary>
    public static string Range((int Low, int High) range) => range.Low == range.High
        ? range.Low.ToString(CultureInfo.InvariantCulture)
        : range.Low.ToString(CultureInfo.InvariantCulture) + "-" + range.High.ToString(CultureInfo.InvariantCulture);
}
