using Microsoft.Extensions.Logging;

namespace ClientLb.Diagnostics;

/// <summary>ClientLb's log messages, each with a stable event id.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Service {Service}: {Eligible} eligible of {Total} endpoints from {Source} (snapshot v{Version}, policy {Policy})")]
    public static partial void PickerUpdated(ILogger logger, string service, int eligible, int total, string source, long version, string policy);

    [LoggerMessage(2, LogLevel.Warning, "Service {Service}: no endpoint can take traffic: {Reason}")]
    public static partial void NoEndpoints(ILogger logger, string service, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Service {Service}: source {Source} failed ({Failures} in a row); serving the last good snapshot (v{Version}), stale for {Staleness}")]
    public static partial void SourceFailing(ILogger logger, string service, string source, int failures, long version, TimeSpan staleness, Exception error);

    [LoggerMessage(4, LogLevel.Debug, "Service {Service}: attempt {Attempt} on {Endpoint} failed ({Reason}); retrying on another endpoint")]
    public static partial void Retrying(ILogger logger, string service, int attempt, string endpoint, string reason);

    [LoggerMessage(5, LogLevel.Information, "Service {Service}: watching through source {Source}")]
    public static partial void SourceCreated(ILogger logger, string service, string source);

    [LoggerMessage(6, LogLevel.Warning, "Service {Service}: source {Source} failed before its first answer")]
    public static partial void SourceFailedInitially(ILogger logger, string service, string source, Exception error);

    [LoggerMessage(7, LogLevel.Error, "Service {Service}: the balancing policy configuration is invalid; keeping the current picker")]
    public static partial void PolicyInvalid(ILogger logger, string service, Exception error);
}
