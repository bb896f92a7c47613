using ClientLb.Agent.Conntrack;
using ClientLb.Agent.Model;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.State;

/// <summary>One service's move from its old plan to its new one (an empty plan and no input: removed).</summary>
internal sealed record ServiceChange(string Key, ServicePlan OldPlan, ServicePlan NewPlan, ServiceState? Input);

/// <summary>How many more services want an element after a sync, and the change that touched it last (its transaction group).</summary>
internal record struct ElementDelta(int Delta, int Group);

/// <summary>A computed sync: the transactions to run and the state changes to commit once they ran.</summary>
internal sealed class PendingSync
{
    public List<string> Transactions { get; } = [];

    public List<ServiceChange> Changes { get; } = [];

    /// <summary>Per element touched: how many more services want it, and the change (index in <see cref="Changes"/>) that touched it last.</summary>
    public Dictionary<Element, ElementDelta> Deltas { get; } = [];

    public List<Element> Adds { get; } = [];

    public List<Element> Deletes { get; } = [];

    public Dictionary<string, string?> ClaimChanges { get; } = new(StringComparer.Ordinal);

    public Dictionary<int, int> TimeoutDeltas { get; } = [];

    public List<int> TimeoutsDeclared { get; } = [];

    public List<int> TimeoutsDropped { get; } = [];

    public List<ServiceRejection> Rejected { get; } = [];

    /// <summary>Endpoints left out of services that were otherwise programmed, each with its service and reason.</summary>
    public List<ServiceRejection> DroppedEndpoints { get; } = [];

    public List<ConntrackFilter> Conntrack { get; } = [];

    /// <summary>A service of this sync programs a 127.0.0.0/8 VIP (sidecar mode): the namespace needs <c>route_localnet</c>.</summary>
    public bool LoopbackVips { get; set; }

    public bool ReconcilesOrphans { get; set; }

    /// <summary>VIP . proto . port keys (per family) whose <c>gen</c> entry no service of a restart matches: their endpoint-map elements must be read.</summary>
    public HashSet<(Family Family, string Key)> StaleKeys { get; } = [];

    public int OrphansDeleted { get; set; }
}
