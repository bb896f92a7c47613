namespace ClientLb.Agent.Model;

/// <summary>Where the agent's rules apply.</summary>
public enum AgentMode
{
    /// <summary>
    /// One pod's network namespace (a sidecar, or <c>--netns NAME</c> from outside): the output hook only, so only that
    /// namespace's own connections are translated.
    /// </summary>
    Sidecar,

    /// <summary>The node's namespace: prerouting (traffic from pods) and output (the node's own connections).</summary>
    Node,
}
