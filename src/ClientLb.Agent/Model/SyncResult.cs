namespace ClientLb.Agent.Model;

/// <summary>What one sync did.</summary>
public sealed record SyncResult
{
    /// <summary>Kernel transactions run (0 when nothing changed; more than one only for a large cold start).</summary>
    public int Transactions { get; init; }

    /// <summary>Services added, changed or removed.</summary>
    public int ServicesChanged { get; init; }

    /// <summary>Set and map elements added.</summary>
    public int ElementsAdded { get; init; }

    /// <summary>Set and map elements deleted (including leftovers found in the kernel at start).</summary>
    public int ElementsDeleted { get; init; }

    /// <summary>Services rejected, each with the reason; the others were programmed.</summary>
    public IReadOnlyList<ServiceRejection> Rejected { get; init; } = [];

    /// <summary>Endpoints left out of services that were programmed without them, each with its service and reason.</summary>
    public IReadOnlyList<ServiceRejection> DroppedEndpoints { get; init; } = [];

    /// <summary>Conntrack filters applied (UDP/SCTP backends that left, VIP ports that lost or gained all backends).</summary>
    public int ConntrackFilters { get; init; }

    /// <summary>Conntrack cleanups that failed, each with the reason.</summary>
    public IReadOnlyList<string> ConntrackFailures { get; init; } = [];

    /// <summary>Time from the call to the kernel's acknowledgement of the last transaction.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Time spent in the kernel transactions alone.</summary>
    public TimeSpan KernelDuration { get; init; }
}
