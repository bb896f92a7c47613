namespace ClientLb.Agent.Validation;

/// <summary>
/// What the agent's mode and placement change in validation: sidecar mode also accepts 127.0.0.0/8 VIPs; a node name or
/// zone makes the validator keep only the most local eligible endpoints (<see cref="Eligibility.EligibleSetBuilder"/>).
/// </summary>
internal sealed record ValidationPolicy(bool AllowLoopbackVips, string? NodeName = null, string? Zone = null)
{
    /// <summary>The SDK's default <c>Topology:MinHealthyShare</c>; every eligible endpoint counts as healthy in the kernel.</summary>
    public const double MinHealthyShare = 0.7;

    /// <summary>Node mode without topology: no loopback VIPs, every eligible endpoint.</summary>
    public static ValidationPolicy Node { get; } = new(AllowLoopbackVips: false);
}
