using ClientLb.Agent.Interop;
using ClientLb.Agent.Model;
using ClientLb.Agent.Validation;

namespace ClientLb.Agent;

/// <summary>How the agent runs.</summary>
public sealed class NftablesAgentOptions
{
    /// <summary>Node (prerouting + output hooks) or sidecar (output hook only). Default: sidecar.</summary>
    public AgentMode Mode { get; set; } = AgentMode.Sidecar;

    /// <summary>A named network namespace (<c>/var/run/netns/NAME</c>) to program from outside it; null for the agent's own.</summary>
    public string? NetworkNamespace { get; set; }

    /// <summary>Print each transaction to <see cref="DryRunOutput"/> instead of running it; the kernel is neither read nor changed.</summary>
    public bool DryRun { get; set; }

    /// <summary>Where <see cref="DryRun"/> prints; standard output when null.</summary>
    public TextWriter? DryRunOutput { get; set; }

    /// <summary>Most element changes per transaction when a sync is split (a cold start): each transaction holds whole services. Default 20,000.</summary>
    public int ChunkElements { get; set; } = 20_000;

    /// <summary>Delete conntrack entries of UDP/SCTP backends that left (Debian's <c>conntrack</c>). Default: on.</summary>
    public bool ConntrackCleanup { get; set; } = true;

    /// <summary>The <c>conntrack</c> executable. Default: <c>conntrack</c> from PATH.</summary>
    public string ConntrackPath { get; set; } = "conntrack";

    /// <summary>
    /// The node the agent's clients run on (e.g. from the downward API's <c>spec.nodeName</c>). With it, or with
    /// <see cref="Zone"/>, each service port gets only its most local eligible endpoints: those the EndpointSlice hints
    /// assign to this node, else to this zone (as kube-proxy); without usable hints same node, else same zone, else all
    /// (the SDK's <c>TopologyFilter</c>). Null (default): no topology filtering.
    /// </summary>
    public string? NodeName { get; set; }

    /// <summary>The zone of the agent's clients (<c>topology.kubernetes.io/zone</c>); see <see cref="NodeName"/>. Null: no zone preference.</summary>
    public string? Zone { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Mode))
        {
            throw new ArgumentException($"{nameof(Mode)}: {(int)Mode} is not Sidecar or Node.", nameof(Mode));
        }
        if (NetworkNamespace is not null && NetworkNamespaceName.Check(NetworkNamespace) is string error)
        {
            throw new ArgumentException($"{nameof(NetworkNamespace)}: {error}.", nameof(NetworkNamespace));
        }
        foreach ((string name, string? value) in new[] { (nameof(NodeName), NodeName), (nameof(Zone), Zone) })
        {
            if (value is not null && (value.Length > 253 || value.Any(char.IsControl)))
            {
                throw new ArgumentException($"{name}: '{Validation.NameRules.Display(value)}' is not a node or zone name (at most 253 characters, no control characters).", name);
            }
        }
        if (ChunkElements < 100)
        {
            throw new ArgumentException($"{nameof(ChunkElements)}: {ChunkElements} is below 100.", nameof(ChunkElements));
        }
        if (string.IsNullOrWhiteSpace(ConntrackPath))
        {
            throw new ArgumentException($"{nameof(ConntrackPath)} is empty.", nameof(ConntrackPath));
        }
    }

    /// <summary>What the mode and placement change in validation: sidecar mode accepts loopback VIPs; a node or zone keeps the most local endpoints.</summary>
    internal ValidationPolicy ValidationPolicy() =>
        new(Mode == AgentMode.Sidecar, NullIfEmpty(NodeName), NullIfEmpty(Zone));

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
