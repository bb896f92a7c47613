using ClientLb.Balancing.Health;
using ClientLb.Balancing.Policies;
using ClientLb.Diagnostics;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using Microsoft.Extensions.Logging;

namespace ClientLb.Balancing;

/// <summary>
/// Builds a service's picker: eligible endpoints -> the topology level's candidates -> the ones passive health allows
/// (or all, in panic) -> the policy's immutable picker over them, shared without a copy (<see cref="PickerArrays"/>), with
/// slow start in front while an endpoint warms up. The balancer swaps the result in. Runs under the rebuild gate.
/// </summary>
internal sealed class PickerBuilder(EligibleSetBuilder eligibility, PassiveHealth health, PolicyContext context, ILogger logger)
{
    // The level of the picker built last (under the rebuild gate), and the level of the picker requests use: a reader that
    // sees a level must also pick with it, so the level shows only once the balancer has swapped its picker in.
    private TopologyLevel _builtLevel = TopologyLevel.Any;
    private int _level = (int)TopologyLevel.Any;
    // The endpoints of the current topology level when it narrows traffic (each knows its LocalSlot); null for all.
    private BalancedEndpoint[]? _candidates;

    /// <summary>The service's policy; null until the configuration was read once.</summary>
    public ILoadBalancingPolicy? Policy { get; set; }

    /// <summary>Where the picker that requests use keeps traffic (as of the last <see cref="Published"/>).</summary>
    public TopologyLevel Level => (TopologyLevel)Volatile.Read(ref _level);

    /// <summary>Called once the picker built last takes requests: its topology level shows from now on.</summary>
    public void Published() => Volatile.Write(ref _level, (int)_builtLevel);

    /// <summary>
    /// The picker over <paramref name="eligible"/>, after a pass over them; null when there is nothing to pick from (or no
    /// policy yet). <paramref name="deadline"/> is when the next ejection or slow-start window ends.
    /// </summary>
    public EndpointPicker? Build(BalancedEndpoint[] eligible, long now, out long deadline)
    {
        deadline = long.MaxValue;
        if (eligible.Length == 0 || Policy is not ILoadBalancingPolicy policy)
        {
            return null;
        }
        // EndpointSlice hints whenever the service has them; the location preference only when opted in. With every
        // endpoint healthy the eligibility counts give the level without a pass over the endpoints.
        TopologyLevel level = health.Unhealthy == 0 ? eligibility.Level
            : !eligibility.MayNarrow ? TopologyLevel.Any
            : eligibility.Choose(eligible, static e => e.Endpoint, static e => e.IsHealthy);
        BalancedEndpoint[] candidates = eligible;
        _candidates = null;
        if (level != TopologyLevel.Any)
        {
            candidates = [.. eligible.Where(e => eligibility.IsIn(e.Endpoint, level))];
            for (int i = 0; i < candidates.Length; i++)
            {
                candidates[i].LocalSlot = i;
            }
            _candidates = candidates;
        }
        SetLevel(level, candidates.Length, eligible.Length);

        EndpointPicker picker = policy.CreatePicker(PickerArrays.Frozen(health.Usable(candidates)), context);
        bool warming = health.ScanTimers(eligible, now, out deadline);
        return WithSlowStart(picker, policy, warming);
    }

    /// <summary>
    /// The picker after one change without a pass over the eligible endpoints, when nothing is ejected or failing health
    /// checks (so no panic, and the topology level follows from the counts): over the whole eligible array, or over the
    /// level's candidates edited by the endpoints that entered or left the level. Null when the full
    /// <see cref="Build"/> is needed (e.g. the level changes).
    /// </summary>
    /// <param name="eligible">The eligible endpoints after the change.</param>
    /// <param name="change">What the change did to them.</param>
    /// <param name="warming">Whether the current picker has slow start in front.</param>
    /// <param name="deadline">The current deadline; moved to the end of a joiner's slow-start window.</param>
    public EndpointPicker? TryBuildFast(BalancedEndpoint[] eligible, in EligibleEndpoints.Change change, bool warming, ref long deadline)
    {
        if (eligible.Length == 0 || Policy is not ILoadBalancingPolicy policy || health.Unhealthy != 0 || health.InPanic)
        {
            return null;
        }
        TopologyLevel level = eligibility.Level;
        if (level != _builtLevel)
        {
            return null;
        }
        BalancedEndpoint[] chosen = eligible;
        if (level != TopologyLevel.Any)
        {
            if (_candidates is not BalancedEndpoint[] candidates)
            {
                return null;
            }
            List<BalancedEndpoint>? localLeaving = null, localJoining = null;
            foreach (BalancedEndpoint gone in change.Leaving ?? [])
            {
                if ((uint)gone.LocalSlot < (uint)candidates.Length && ReferenceEquals(candidates[gone.LocalSlot], gone))
                {
                    (localLeaving ??= []).Add(gone);
                }
            }
            foreach (BalancedEndpoint joined in change.Joining ?? [])
            {
                if (eligibility.IsIn(joined.Endpoint, level))
                {
                    (localJoining ??= []).Add(joined);
                }
            }
            foreach ((BalancedEndpoint endpoint, Endpoint previous) in change.ChangedInPlace ?? [])
            {
                bool was = eligibility.IsIn(previous, level), now = eligibility.IsIn(endpoint.Endpoint, level);
                if (was != now)
                {
                    (now ? localJoining ??= [] : localLeaving ??= []).Add(endpoint);
                }
            }
            if (localLeaving is not null || localJoining is not null)
            {
                _candidates = candidates = SlotArrays.Edit(candidates, localLeaving, localJoining, local: true);
            }
            chosen = candidates;
            if (chosen.Length == 0)
            {
                return null;
            }
        }
        EndpointPicker picker = policy.CreatePicker(PickerArrays.Frozen(chosen), context);
        warming |= PassiveHealth.AnyWarming(change.Joining, ref deadline);
        return WithSlowStart(picker, policy, warming);
    }

    private void SetLevel(TopologyLevel level, int candidates, int eligible)
    {
        if (level != _builtLevel)
        {
            Log.TopologyLevelChanged(logger, context.ServiceId, TopologyFilter.Describe(level), candidates, eligible);
            _builtLevel = level;
        }
    }

    // Affinity must not be broken by slow start: a key keeps its endpoint.
    private EndpointPicker WithSlowStart(EndpointPicker picker, ILoadBalancingPolicy policy, bool warming) =>
        warming && policy is not (HashPolicy or StickyPolicy) ? new SlowStartPicker(picker, context.TimeProvider) : picker;
}
