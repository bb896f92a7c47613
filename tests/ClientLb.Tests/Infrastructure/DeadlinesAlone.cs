namespace ClientLb.Tests.Infrastructure;

/// <summary>
/// Tests whose pass depends on real deadlines (a 300 ms connect timeout, a 2 s request deadline) run here, alone, after
/// the parallel ones. A CPU-bound test beside them (PositionTableTests' random edits take 5 s of CPU) can delay their
/// timers and continuations past the deadline on a 2-core machine: ConnectTimeoutTests failed that way once in CI (a
/// request cancelled by its 2 s HttpClient.Timeout; the test took 4 s, where it takes 0.4 s alone).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DeadlinesAlone
{
    /// <summary>The collection's name.</summary>
    public const string Name = "real deadlines, run alone";
}
