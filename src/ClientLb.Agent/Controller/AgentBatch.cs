using ClientLb.Agent.Model;

namespace ClientLb.Agent.Controller;

/// <summary>One sync <see cref="KubernetesAgentController"/> made: what it sent to the agent and what came back.</summary>
/// <param name="Full">True for a <see cref="NftablesAgent.SyncAsync"/> with every service; false for an <see cref="NftablesAgent.ApplyAsync"/>.</param>
/// <param name="Upserts">The services sent (all of them when <paramref name="Full"/>).</param>
/// <param name="Removed">The keys (<c>namespace/name</c>) removed.</param>
/// <param name="Result">The agent's result.</param>
public sealed record AgentBatch(bool Full, IReadOnlyList<ServiceState> Upserts, IReadOnlyList<string> Removed, SyncResult Result);
