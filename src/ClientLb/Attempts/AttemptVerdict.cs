
using ClientLb.Balancing;

namespace ClientLb.Attempts;

/// <summary>What one attempt's end means (an <see cref="AttemptClassifier"/>'s verdict).</summary>
/// <param name="Outcome">What passive health hears about the endpoint.</param>
/// <param name="Failure">The failure's metric label (<c>connection_error</c>, <c>transport_error</c>, <c>status_5xx</c>,
/// <c>grpc_unavailable</c>), or null for an answer that is no failure.</param>
/// <param name="RetryReason">Why the call may go to another endpoint (<c>status_503</c>, <c>connection_error</c>,
/// <c>grpc_unavailable</c>...), if the call may be sent again; null when this end is final whatever the call.</param>
/// <param name="NotSent">Whether no server can have seen the request (no connection was made).</param>
public readonly record struct AttemptVerdict(AttemptOutcome Outcome, string? Failure, string? RetryReason, bool NotSent)
{
    /// <summary>An answer that ends the call: nothing failed.</summary>
    public static AttemptVerdict Answered => default;
}
