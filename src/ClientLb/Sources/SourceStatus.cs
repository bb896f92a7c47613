namespace ClientLb.Sources;

/// <summary>How a source is doing: a source that fails keeps serving its last good snapshot.</summary>
/// <param name="LastSuccessAt">When a refresh last succeeded.</param>
/// <param name="FailingSince">When the current run of failures began; null while healthy.</param>
/// <param name="LastError">The most recent failure while failing; null while healthy.</param>
/// <param name="ConsecutiveFailures">How many refreshes failed in a row.</param>
public sealed record SourceStatus(DateTimeOffset? LastSuccessAt, DateTimeOffset? FailingSince, Exception? LastError, int ConsecutiveFailures)
{
    /// <summary>No refresh has happened yet.</summary>
    public static SourceStatus NotStarted { get; } = new(null, null, null, 0);

    /// <summary>True when the last refresh succeeded.</summary>
    public bool IsHealthy => LastError is null && LastSuccessAt is not null;

    /// <summary>How long the served snapshot has gone without a successful refresh while failing, or zero when healthy.</summary>
    public TimeSpan Staleness(DateTimeOffset now) =>
        FailingSince is null ? TimeSpan.Zero : now - (LastSuccessAt ?? FailingSince.Value);
}
