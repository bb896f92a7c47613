using System.Runtime.InteropServices;
using ClientLb.Agent.Model;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.State;

/// <summary>
/// What the agent believes the kernel holds and why: how many services want each element (every wanted element is in the
/// kernel), the elements read from the kernel that no service has claimed yet, each service's last plan and input. Only
/// <see cref="Commit"/> changes it, after the kernel accepted the transaction.
/// </summary>
internal sealed class ProgrammedState
{
    /// <summary>
    /// Elements found in the kernel at start and not yet reconciled (per set). Once the first full sync committed they
    /// are either wanted (then <see cref="Desired"/> holds them) or deleted, so this is empty: the state keeps one entry
    /// per programmed element, not two.
    /// </summary>
    public Dictionary<Container, HashSet<string>> Kernel { get; } = [];

    /// <summary>How many services want each element; an element with a count is in the kernel.</summary>
    public Dictionary<Element, int> Desired { get; } = [];

    public Dictionary<string, ServicePlan> Plans { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, ServiceState> Inputs { get; } = new(StringComparer.Ordinal);

    /// <summary>VIP . proto . port to the service that owns it.</summary>
    public Dictionary<string, string> Claims { get; } = new(StringComparer.Ordinal);

    /// <summary>Affinity timeout to how many services use it.</summary>
    public Dictionary<int, int> TimeoutUse { get; } = [];

    /// <summary>The <c>aff-T</c> sets that exist in the kernel.</summary>
    public HashSet<int> DeclaredTimeouts { get; } = [];

    /// <summary>Whether the skeleton was applied by this process (a restart applies it once over the old one).</summary>
    public bool SkeletonApplied { get; set; }

    /// <summary>Whether elements found in the kernel at start and wanted by no service were deleted (first full sync).</summary>
    public bool OrphansReconciled { get; set; }

    /// <summary>The tables as read at start (null per family when absent or not read yet).</summary>
    public KernelTable?[] Snapshot { get; } = new KernelTable?[2];

    public bool SnapshotRead { get; set; }

    /// <summary>
    /// A restart found its own layout (the <c>layout</c> marker) and read only the <c>gen</c> map and the small sets: the
    /// first full sync takes a service whose <c>gen</c> hash matches as programmed, and reads the endpoint maps only for
    /// the services whose hash differs or that are gone (<see cref="StaleRead"/>). Cleared once that sync committed.
    /// </summary>
    public bool TrustsGenerations { get; set; }

    /// <summary>The endpoint-map elements of the stale services of a <see cref="TrustsGenerations"/> restart were read.</summary>
    public bool StaleRead { get; set; }

    public int ElementCount => Desired.Count + Kernel.Values.Sum(s => s.Count);

    /// <summary>Whether <paramref name="element"/> was found in the kernel at start and not reconciled yet.</summary>
    public bool FoundInKernel(Element element) =>
        Kernel.Count > 0 && Kernel.TryGetValue(element.Container, out HashSet<string>? found) && found.Contains(element.Text);

    public HashSet<string> KernelSet(Container container)
    {
        if (!Kernel.TryGetValue(container, out HashSet<string>? set))
        {
            set = new HashSet<string>(StringComparer.Ordinal);
            Kernel[container] = set;
        }
        return set;
    }

    /// <summary>Loads the kernel's tables: sets of the layout keep their elements; anything else will be replaced.</summary>
    public void Load(KernelTable? v4, KernelTable? v6)
    {
        Snapshot[0] = v4;
        Snapshot[1] = v6;
        SnapshotRead = true;
        foreach ((Family family, KernelTable? table) in new[] { (Family.V4, v4), (Family.V6, v6) })
        {
            if (table is null)
            {
                continue;
            }
            foreach (KernelSet set in table.Sets.Values)
            {
                if (Skeleton.TryContainer(family, set.Name, out Container container) && container.Kind != ContainerKind.LayoutMarker &&
                    Skeleton.Keeps(family, set, [container.Index]))
                {
                    KernelSet(container).UnionWith(set.Elements);
                    if (container.Kind == ContainerKind.AffinityTimeout)
                    {
                        DeclaredTimeouts.Add(container.Index);
                    }
                }
            }
        }
    }

    public void Commit(PendingSync sync)
    {
        Desired.EnsureCapacity(Desired.Count + sync.Adds.Count);
        foreach ((Element element, (int delta, _)) in sync.Deltas)
        {
            if (delta == 0)
            {
                continue;
            }
            ref int count = ref CollectionsMarshal.GetValueRefOrAddDefault(Desired, element, out _);
            count += delta;
            if (count == 0)
            {
                Desired.Remove(element);
            }
        }
        // Added and found elements are wanted: Desired holds them now. Deleted ones leave the found sets too.
        foreach (Element element in sync.Deletes)
        {
            if (Kernel.TryGetValue(element.Container, out HashSet<string>? found))
            {
                found.Remove(element.Text);
            }
        }
        foreach (ServiceChange change in sync.Changes)
        {
            if (change.NewPlan.Elements.IsEmpty && change.Input is null)
            {
                Plans.Remove(change.Key);
                Inputs.Remove(change.Key);
            }
            else
            {
                Plans[change.Key] = change.NewPlan;
                Inputs[change.Key] = change.Input!;
            }
        }
        foreach ((string claim, string? owner) in sync.ClaimChanges)
        {
            if (owner is null)
            {
                Claims.Remove(claim);
            }
            else
            {
                Claims[claim] = owner;
            }
        }
        foreach ((int timeout, int delta) in sync.TimeoutDeltas)
        {
            int count = TimeoutUse.GetValueOrDefault(timeout) + delta;
            if (count == 0)
            {
                TimeoutUse.Remove(timeout);
            }
            else
            {
                TimeoutUse[timeout] = count;
            }
        }
        foreach (int timeout in sync.TimeoutsDropped)
        {
            DeclaredTimeouts.Remove(timeout);
            foreach (Family family in Family.All)
            {
                Kernel.Remove(new Container(family, ContainerKind.AffinityTimeout, timeout));
            }
        }
        DeclaredTimeouts.UnionWith(sync.TimeoutsDeclared);
        SkeletonApplied = true;
        OrphansReconciled |= sync.ReconcilesOrphans;
        TrustsGenerations &= !sync.ReconcilesOrphans;
        if (sync.ReconcilesOrphans)
        {
            // Every found element was either wanted (now in Desired) or deleted as an orphan.
            Kernel.Clear();
            Desired.TrimExcess();
        }
    }
}
