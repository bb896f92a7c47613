using System.Globalization;
using System.Text;
using ClientLb.Agent.Model;
using ClientLb.Agent.State;

namespace ClientLb.Agent.Ruleset;

/// <summary>Renders the fixed part: tables, sets, chains and their few rules; and the affinity chain when timeouts change.</summary>
internal static class Skeleton
{
    /// <summary>
    /// The whole skeleton, once per agent start. Chains that exist are flushed and refilled in the same transaction, so a
    /// restart never leaves a moment without rules; chains and sets of another layout or mode are removed.
    /// </summary>
    public static void AppendFull(StringBuilder text, AgentMode mode, Family family, KernelTable? existing, IReadOnlyCollection<int> timeouts)
    {
        AppendStructure(text, mode, family, existing, timeouts);
        // The marker names the layout these chains and sets follow; each service vouches for its own elements in gen.
        string table = family.Table;
        text.Append("flush set ").Append(table).Append(" layout\n");
        text.Append("add element ").Append(table).Append(" layout { ")
            .Append(Layout.Marker(mode, family).ToString(CultureInfo.InvariantCulture)).Append(" }\n");
    }

    /// <summary>The skeleton without its marker; <see cref="Layout.Marker"/> hashes it for no existing table and no timeouts.</summary>
    public static void AppendStructure(StringBuilder text, AgentMode mode, Family family, KernelTable? existing, IReadOnlyCollection<int> timeouts)
    {
        timeouts = Layout.StatefulAffinity(family) ? timeouts : [];
        text.Append("add table ").Append(family.Table).Append('\n');
        IReadOnlyList<(string Name, string? Hook)> chains = Layout.Chains(mode, family);
        if (existing is not null)
        {
            foreach (string chain in existing.Chains.Order(StringComparer.Ordinal))
            {
                text.Append("flush chain ").Append(family.Table).Append(' ').Append(chain).Append('\n');
            }
            foreach (string chain in existing.Chains.Order(StringComparer.Ordinal))
            {
                if (!chains.Any(c => c.Name == chain))
                {
                    text.Append("delete chain ").Append(family.Table).Append(' ').Append(chain).Append('\n');
                }
            }
            foreach (KernelSet set in existing.Sets.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                if (!Keeps(family, set, timeouts))
                {
                    text.Append("delete ").Append(set.Signature.Split('|')[1].Length > 0 ? "map " : "set ").Append(family.Table).Append(' ').Append(set.Name).Append('\n');
                }
            }
        }
        foreach (Container container in Layout.FixedContainers(family))
        {
            AppendDeclaration(text, container);
        }
        foreach (int timeout in timeouts.Order())
        {
            AppendDeclaration(text, new Container(family, ContainerKind.AffinityTimeout, timeout));
        }
        if (Layout.StatefulAffinity(family))
        {
            text.Append("add map ").Append(family.Table).Append(' ').Append(Layout.ClientsMap).Append(" { ").Append(Layout.ClientsDeclaration(family)).Append(" }\n");
        }
        foreach ((string name, string? hook) in chains)
        {
            text.Append("add chain ").Append(family.Table).Append(' ').Append(name);
            text.Append(hook is null ? "\n" : " { " + hook + " }\n");
        }
        foreach ((string name, _) in chains)
        {
            AppendRules(text, family, name, timeouts);
        }
    }

    /// <summary>Declares new <c>aff-T</c> sets and refills the affinity chain for the timeouts now in use.</summary>
    public static void AppendAffinityChange(StringBuilder text, Family family, IEnumerable<int> added, IReadOnlyCollection<int> timeouts)
    {
        foreach (int timeout in added.Order())
        {
            AppendDeclaration(text, new Container(family, ContainerKind.AffinityTimeout, timeout));
        }
        text.Append("flush chain ").Append(family.Table).Append(" affinity\n");
        AppendRules(text, family, "affinity", timeouts);
    }

    /// <summary>Deletes <c>aff-T</c> sets no service uses any more (after the affinity chain stopped naming them).</summary>
    public static void AppendAffinityDrop(StringBuilder text, Family family, IEnumerable<int> dropped)
    {
        foreach (int timeout in dropped.Order())
        {
            text.Append("delete set ").Append(family.Table).Append(" aff-").Append(timeout.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }

    /// <summary>
    /// Whether an existing set of another layout matches this one and is kept with its elements. The <c>eps</c>,
    /// <c>epx</c>, <c>cnt</c> and <c>grp</c> sets never are: they are declared with <c>typeof ... th dport ... numgen</c>,
    /// and nft 1.0.6 fails to add a rule naming such a set once it comes from the kernel ("conflicting protocols specified:
    /// tcp vs. th", a bug in parsing the typeof data back). So rebuilding a layout deletes and re-declares them, with all
    /// their elements, in the same transaction that refills the chains: atomic, no gap. A restart that finds its own
    /// layout (the <c>layout</c> marker) touches no chain and keeps them all (<see cref="State.KernelReader"/>).
    /// </summary>
    public static bool Keeps(Family family, KernelSet set, IReadOnlyCollection<int> timeouts)
    {
        if (TryContainer(family, set.Name, out Container endpoints) &&
            endpoints.Kind is ContainerKind.Endpoints or ContainerKind.Indexed or ContainerKind.IndexCount or ContainerKind.IndexGroup)
        {
            return false;
        }
        if (set.Name == Layout.ClientsMap)
        {
            return Layout.StatefulAffinity(family) && set.Signature == Layout.ClientsSignature(family);
        }
        return TryContainer(family, set.Name, out Container container) &&
            (container.Kind != ContainerKind.AffinityTimeout || timeouts.Contains(container.Index)) &&
            set.Signature == Layout.Signature(container);
    }

    /// <summary>Maps a set name of the layout back to its container.</summary>
    public static bool TryContainer(Family family, string name, out Container container)
    {
        foreach (Container fixedContainer in Layout.FixedContainers(family))
        {
            if (fixedContainer.Name == name)
            {
                container = fixedContainer;
                return true;
            }
        }
        if (name.StartsWith("aff-", StringComparison.Ordinal) &&
            int.TryParse(name.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int timeout) &&
            timeout is >= 1 and <= Validation.ServiceValidator.MaxAffinityTimeoutSeconds && Layout.StatefulAffinity(family) &&
            name == "aff-" + timeout.ToString(CultureInfo.InvariantCulture))
        {
            container = new Container(family, ContainerKind.AffinityTimeout, timeout);
            return true;
        }
        container = default;
        return false;
    }

    private static void AppendDeclaration(StringBuilder text, Container container)
    {
        bool map = container.Kind is ContainerKind.Endpoints or ContainerKind.AffinityEndpoints or ContainerKind.Indexed or ContainerKind.Generation;
        // Names are fixed words and integers; nothing from a Service is part of a declaration.
        text.Append(map ? "add map " : "add set ").Append(container.Family.Table).Append(' ').Append(container.Name)
            .Append(" { ").Append(Layout.Declaration(container)).Append(" }\n");
    }

    private static void AppendRules(StringBuilder text, Family family, string chain, IEnumerable<int> timeouts)
    {
        foreach (string rule in Layout.Rules(family, chain, timeouts))
        {
            text.Append("add rule ").Append(family.Table).Append(' ').Append(chain).Append(' ').Append(rule).Append('\n');
        }
    }
}
