using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text;
using ClientLb.Agent.Conntrack;
using ClientLb.Agent.Model;
using ClientLb.Agent.Ruleset;
using ClientLb.Agent.Validation;

namespace ClientLb.Agent.State;

/// <summary>
/// Turns desired services into a <see cref="PendingSync"/>: validates and plans only services whose input changed,
/// diffs their elements against the programmed state, and has a <see cref="TransactionWriter"/> write the transactions.
/// Pure: the kernel and the state are untouched until the caller commits.
/// </summary>
internal sealed class SyncPlanner
{
    private readonly ProgrammedState _state;
    private readonly AgentMode _mode;
    private readonly int _chunkElements;
    private readonly ValidationPolicy _policy;

    public SyncPlanner(ProgrammedState state, AgentMode mode, int chunkElements, ValidationPolicy? policy = null)
    {
        _state = state;
        _mode = mode;
        _policy = policy ?? new ValidationPolicy(AllowLoopbackVips: mode == AgentMode.Sidecar);
        _chunkElements = chunkElements;
    }

    /// <summary>Plans a sync. <paramref name="full"/>: <paramref name="upserts"/> is every service; others are removed.</summary>
    public PendingSync Plan(IReadOnlyList<ServiceState> upserts, IReadOnlyCollection<string> removals, bool full)
    {
        var sync = new PendingSync();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var removed = new List<string>(removals);
        var candidates = new List<ServiceState>();
        foreach (ServiceState service in upserts)
        {
            if (service is null)
            {
                sync.Rejected.Add(new ServiceRejection("(null)", "a service state is null"));
                continue;
            }
            if (!seen.Add(service.Key))
            {
                sync.Rejected.Add(new ServiceRejection(NameRules.Display(service.Key), "the service is listed twice in one sync; the first one was used"));
                continue;
            }
            if (!_state.Inputs.TryGetValue(service.Key, out ServiceState? previous) || !previous.Equals(service))
            {
                candidates.Add(service);
            }
        }
        if (full)
        {
            removed.AddRange(_state.Plans.Keys.Where(k => !seen.Contains(k)));
        }

        foreach (string key in removed.Distinct(StringComparer.Ordinal))
        {
            if (_state.Plans.TryGetValue(key, out ServicePlan? old))
            {
                foreach (string claim in old.Claims)
                {
                    sync.ClaimChanges[claim] = null;
                }
                sync.Changes.Add(new ServiceChange(key, old, ServicePlan.Empty(key), null));
            }
        }

        candidates.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        // Validating and rendering is pure per service: spread it over the cores on a large sync (a cold start).
        var rendered = new (ServicePlan? Plan, string? Error, bool LoopbackVip, ImmutableArray<string> Dropped)[candidates.Count];
        Parallel.For(0, candidates.Count, new ParallelOptions { MaxDegreeOfParallelism = candidates.Count >= 512 ? Environment.ProcessorCount : 1 }, i =>
        {
            try
            {
                rendered[i] = ServiceValidator.TryValidate(candidates[i], _policy, out ValidatedService? validated, out string? error)
                    ? (ServicePlan.For(validated, Layout.Hairpin(_mode)), null, validated.Ports.Any(static p => AddressRules.IsLoopbackVip(p.Vip)), validated.Dropped)
                    : (null, error, false, []);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NullReferenceException or FormatException or OverflowException)
            {
                // Defense in depth: whatever slipped past validation rejects this service only, never the sync.
                rendered[i] = (null, "the service could not be rendered: " + e.Message, false, []);
            }
        });
        for (int index = 0; index < candidates.Count; index++)
        {
            ServiceState service = candidates[index];
            if (rendered[index].Plan is not ServicePlan plan)
            {
                sync.Rejected.Add(new ServiceRejection(NameRules.Display(service.Key), rendered[index].Error + (_state.Plans.ContainsKey(service.Key) ? "; its last valid state stays programmed" : "")));
                continue;
            }
            ServicePlan old = _state.Plans.GetValueOrDefault(service.Key) ?? ServicePlan.Empty(service.Key);
            string? conflict = null;
            ImmutableArray<string> claims = plan.Claims;
            foreach (string claim in claims)
            {
                string? owner = sync.ClaimChanges.TryGetValue(claim, out string? staged) ? staged : _state.Claims.GetValueOrDefault(claim);
                if (owner is not null && owner != service.Key)
                {
                    conflict = $"{claim} is already programmed for service {owner}";
                    break;
                }
            }
            if (conflict is not null)
            {
                sync.Rejected.Add(new ServiceRejection(service.Key, conflict));
                continue;
            }
            foreach (string claim in old.Claims)
            {
                sync.ClaimChanges[claim] = null;
            }
            foreach (string claim in claims)
            {
                sync.ClaimChanges[claim] = service.Key;
            }
            sync.Changes.Add(new ServiceChange(service.Key, old, plan, service));
            sync.DroppedEndpoints.AddRange(rendered[index].Dropped.Select(reason => new ServiceRejection(service.Key, reason)));
            sync.LoopbackVips |= rendered[index].LoopbackVip;
        }

        Diff(sync, full);
        return sync;
    }

    private void Diff(PendingSync sync, bool full)
    {
        // Element deltas, remembering which change touched an element last (its transaction group on a chunked sync). One
        // hash lookup per element: on a cold start this loop and the next see every element of every service.
        sync.Deltas.EnsureCapacity(sync.Changes.Sum(static c => c.OldPlan.Elements.Length + c.NewPlan.Elements.Length));
        for (int i = 0; i < sync.Changes.Count; i++)
        {
            ServiceChange change = sync.Changes[i];
            foreach (Element e in change.OldPlan.Elements)
            {
                ref ElementDelta delta = ref CollectionsMarshal.GetValueRefOrAddDefault(sync.Deltas, e, out _);
                delta = new ElementDelta(delta.Delta - 1, i);
            }
            foreach (Element e in change.NewPlan.Elements)
            {
                ref ElementDelta delta = ref CollectionsMarshal.GetValueRefOrAddDefault(sync.Deltas, e, out _);
                delta = new ElementDelta(delta.Delta + 1, i);
            }
            if (change.OldPlan.AffinityTimeout is int oldTimeout)
            {
                sync.TimeoutDeltas[oldTimeout] = sync.TimeoutDeltas.GetValueOrDefault(oldTimeout) - 1;
            }
            if (change.NewPlan.AffinityTimeout is int newTimeout)
            {
                sync.TimeoutDeltas[newTimeout] = sync.TimeoutDeltas.GetValueOrDefault(newTimeout) + 1;
            }
            AddConntrackFilters(sync, change);
        }

        bool[]? matched = _state.TrustsGenerations ? MatchGenerations(sync) : null;
        var adds = new List<(int Group, Element Element)>();
        var deletes = new List<(int Group, Element Element)>();
        foreach ((Element e, (int delta, int group)) in sync.Deltas)
        {
            if (delta == 0)
            {
                continue;
            }
            int wantedBefore = _state.Desired.GetValueOrDefault(e);
            bool wanted = wantedBefore + delta > 0;
            // A service found unchanged by its gen hash has all its elements in the kernel. (An element two services share,
            // such as a hairpin entry, is judged by the last one: at worst it is added again, which a set accepts.)
            bool present = wantedBefore > 0 || _state.FoundInKernel(e) || (matched is not null && matched[group]);
            if (wanted && !present)
            {
                adds.Add((group, e));
            }
            else if (!wanted && present)
            {
                deletes.Add((group, e));
            }
        }
        if (full && !_state.OrphansReconciled)
        {
            sync.ReconcilesOrphans = true;
            var deleting = new HashSet<Element>(deletes.Select(d => d.Element));
            foreach ((Container container, HashSet<string> texts) in _state.Kernel)
            {
                foreach (string text in texts)
                {
                    var e = new Element(container, text);
                    if (_state.Desired.GetValueOrDefault(e) + sync.Deltas.GetValueOrDefault(e).Delta <= 0 && !deleting.Contains(e))
                    {
                        deletes.Add((-1, e));
                        sync.OrphansDeleted++;
                    }
                }
            }
        }
        sync.Adds.AddRange(adds.Select(a => a.Element));
        sync.Deletes.AddRange(deletes.Select(d => d.Element));

        // Affinity timeouts in use versus the aff-T sets that exist.
        var timeouts = new HashSet<int>(_state.TimeoutUse.Keys);
        foreach ((int timeout, int delta) in sync.TimeoutDeltas)
        {
            if (_state.TimeoutUse.GetValueOrDefault(timeout) + delta > 0)
            {
                timeouts.Add(timeout);
            }
            else
            {
                timeouts.Remove(timeout);
            }
        }
        sync.TimeoutsDeclared.AddRange(timeouts.Where(t => !_state.DeclaredTimeouts.Contains(t) || !_state.SkeletonApplied));
        sync.TimeoutsDropped.AddRange(_state.DeclaredTimeouts.Where(t => !timeouts.Contains(t)));

        var prologue = new StringBuilder();
        var epilogue = new StringBuilder();
        if (!_state.SkeletonApplied)
        {
            for (int f = 0; f < Family.All.Count; f++)
            {
                Skeleton.AppendFull(prologue, _mode, Family.All[f], _state.Snapshot[f], timeouts);
            }
        }
        else if (sync.TimeoutsDeclared.Count > 0 || sync.TimeoutsDropped.Count > 0)
        {
            foreach (Family family in Family.All.Where(Layout.StatefulAffinity))
            {
                Skeleton.AppendAffinityChange(prologue, family, sync.TimeoutsDeclared, timeouts);
                Skeleton.AppendAffinityDrop(epilogue, family, sync.TimeoutsDropped);
            }
        }
        if (!_state.SkeletonApplied)
        {
            // The full skeleton already deleted aff-T sets that are not in use; nothing left to drop afterwards.
            foreach (int timeout in sync.TimeoutsDropped)
            {
                foreach (Family family in Family.All)
                {
                    var container = new Container(family, ContainerKind.AffinityTimeout, timeout);
                    sync.Deletes.RemoveAll(e => e.Container == container);
                    deletes.RemoveAll(d => d.Element.Container == container);
                }
            }
        }

        bool restart = !_state.SkeletonApplied && (_state.Snapshot[0] is not null || _state.Snapshot[1] is not null);
        new TransactionWriter(sync.Transactions, _state.SkeletonApplied, restart, _chunkElements).Write(prologue.ToString(), epilogue.ToString(), adds, deletes);
    }

    /// <summary>
    /// A restart that trusts the <c>gen</c> map: a service all of whose <c>gen</c> elements the kernel holds with the same
    /// hash is programmed exactly as planned, so its elements count as present without being listed. Every other
    /// <c>gen</c> entry in the kernel belongs to a service that changed or went; its elements must be read (StaleKeys).
    /// </summary>
    private bool[] MatchGenerations(PendingSync sync)
    {
        bool[] matchedChanges = new bool[sync.Changes.Count];
        var matched = new HashSet<Element>();
        for (int i = 0; i < sync.Changes.Count; i++)
        {
            ServiceChange change = sync.Changes[i];
            bool any = false, all = true;
            foreach (Element e in change.NewPlan.Elements)
            {
                if (e.Container.Kind == ContainerKind.Generation)
                {
                    any = true;
                    all &= _state.KernelSet(e.Container).Contains(e.Text);
                }
            }
            if (any && all)
            {
                matchedChanges[i] = true;
                matched.UnionWith(change.NewPlan.Elements.Where(static e => e.Container.Kind == ContainerKind.Generation));
            }
        }
        foreach (Family family in Family.All)
        {
            var gen = new Container(family, ContainerKind.Generation);
            foreach (string text in _state.KernelSet(gen))
            {
                if (!matched.Contains(new Element(gen, text)))
                {
                    sync.StaleKeys.Add((family, ServicePlan.GenerationKey(text)));
                }
            }
        }
        return matchedChanges;
    }

    /// <summary>
    /// Conntrack entries that would pin a connectionless flow to a gone backend: a backend that left (by reply source),
    /// or every entry of a VIP port that lost its last backend or gained its first.
    /// </summary>
    private void AddConntrackFilters(PendingSync sync, ServiceChange change)
    {
        bool firstAppearance = change.OldPlan.Elements.IsEmpty;
        foreach (ConntrackPort old in change.OldPlan.ConntrackPorts)
        {
            ConntrackPort? now = change.NewPlan.ConntrackPorts.FirstOrDefault(p => p.Vip.Equals(old.Vip) && p.Protocol == old.Protocol && p.Port == old.Port);
            if (now is null || now.Targets.IsEmpty)
            {
                if (!old.Targets.IsEmpty)
                {
                    sync.Conntrack.Add(new ConntrackFilter(old.Protocol, old.Vip, old.Port));
                }
            }
            else if (old.Targets.IsEmpty)
            {
                sync.Conntrack.Add(new ConntrackFilter(old.Protocol, old.Vip, old.Port));
            }
            else
            {
                foreach (Target gone in old.Targets.Where(t => !now.Targets.Any(n => n.Address.Equals(t.Address) && n.Port == t.Port)))
                {
                    sync.Conntrack.Add(new ConntrackFilter(old.Protocol, old.Vip, old.Port, gone.Address, gone.Port));
                }
            }
        }
        // Not on a restart: a service found in the kernel keeps its flows (the slow path has SkeletonApplied false then).
        if (firstAppearance && _state.SkeletonApplied && !_state.TrustsGenerations)
        {
            foreach (ConntrackPort now in change.NewPlan.ConntrackPorts.Where(p => !p.Targets.IsEmpty))
            {
                sync.Conntrack.Add(new ConntrackFilter(now.Protocol, now.Vip, now.Port));
            }
        }
    }
}
