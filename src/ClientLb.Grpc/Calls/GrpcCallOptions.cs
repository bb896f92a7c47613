namespace ClientLb.Grpc.Calls;

/// <summary>Per-call settings of <see cref="GrpcCaller"/>.</summary>
public sealed class GrpcCallOptions
{
    /// <summary>
    /// How long the call may take. Sent as <c>grpc-timeout</c> (the server and ClientLb's retries keep to it) and enforced
    /// locally: the call fails with DEADLINE_EXCEEDED when it passes. Null: no deadline.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Request metadata (lower-case ASCII names; <c>-bin</c> names are not supported by this caller).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }
}
