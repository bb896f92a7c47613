using ClientLb.Sandbox.Api;

namespace ClientLb.Sandbox;

public sealed partial class SandboxCluster
{
    /// <summary>The API watches clients opened, per user and resource (open now and ever opened).</summary>
    public WatchCounter Watches { get; } = new();
}
