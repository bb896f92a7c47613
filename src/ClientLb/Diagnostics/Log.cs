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

    [LoggerMessage(4, LogLevel.Debug, "Service {Service}: {Call} attempt {Attempt} on {Endpoint} failed ({Reason}); retrying on another endpoint")]
    public static partial void Retrying(ILogger logger, string service, string call, int attempt, string endpoint, string reason);

    [LoggerMessage(5, LogLevel.Information, "Service {Service}: watching through source {Source}")]
    public static partial void SourceCreated(ILogger logger, string service, string source);

    [LoggerMessage(6, LogLevel.Warning, "Service {Service}: source {Source} failed before its first answer")]
    public static partial void SourceFailedInitially(ILogger logger, string service, string source, Exception error);

    [LoggerMessage(7, LogLevel.Error, "Service {Service}: the balancing policy configuration is invalid; keeping the current picker")]
    public static partial void PolicyInvalid(ILogger logger, string service, Exception error);

    [LoggerMessage(8, LogLevel.Warning, "Service {Service}: endpoint {Endpoint} ejected for {Duration} ({Reason}; ejection {Ejections} in a row)")]
    public static partial void EndpointEjected(ILogger logger, string service, string endpoint, string reason, TimeSpan duration, int ejections);

    [LoggerMessage(9, LogLevel.Information, "Service {Service}: endpoint {Endpoint} returns to rotation after its ejection")]
    public static partial void EndpointReturned(ILogger logger, string service, string endpoint);

    [LoggerMessage(10, LogLevel.Information, "Service {Service}: endpoint {Endpoint} failing ({Reason}) but not ejected: {Ejected} of {Total} already are (max ejected share)")]
    public static partial void EjectionLimited(ILogger logger, string service, string endpoint, string reason, int ejected, int total);

    [LoggerMessage(11, LogLevel.Warning, "Service {Service}: panic: only {Healthy} of {Total} endpoints healthy, below the panic threshold; using all of them")]
    public static partial void PanicEntered(ILogger logger, string service, int healthy, int total);

    [LoggerMessage(12, LogLevel.Information, "Service {Service}: panic over: {Healthy} of {Total} endpoints healthy")]
    public static partial void PanicLeft(ILogger logger, string service, int healthy, int total);

    [LoggerMessage(13, LogLevel.Information, "Service {Service}: topology now keeps traffic on {Level} ({Candidates} of {Eligible} eligible endpoints)")]
    public static partial void TopologyLevelChanged(ILogger logger, string service, string level, int candidates, int eligible);

    [LoggerMessage(14, LogLevel.Debug, "Service {Service}: retry budget spent; {Call} attempt on {Endpoint} failed ({Reason}) and is not retried")]
    public static partial void RetryBudgetExhausted(ILogger logger, string service, string call, string endpoint, string reason);

    [LoggerMessage(15, LogLevel.Debug, "Service {Service}: hedged attempt {Attempt} after {Endpoint} did not answer in time or failed")]
    public static partial void Hedging(ILogger logger, string service, int attempt, string endpoint);

    [LoggerMessage(16, LogLevel.Information, "Service {Service} (schemes {Schemes}): no client used it for {IdleTimeout}; its balancer is released and its source {SourceState}")]
    public static partial void ServiceReleased(ILogger logger, string service, string schemes, TimeSpan idleTimeout, string sourceState);

    [LoggerMessage(17, LogLevel.Warning, "Service {Service}: stopping source {Source} failed")]
    public static partial void SourceDisposeFailed(ILogger logger, string service, string source, Exception error);

    [LoggerMessage(18, LogLevel.Debug, "Service {Service}: probe of ejected endpoint {Endpoint} failed: {Reason}")]
    public static partial void ProbeFailed(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(19, LogLevel.Warning, "Service {Service}: source {Source} dropped the record {Record}: {Reason}; the rest of the service is served")]
    public static partial void RecordDropped(ILogger logger, string service, string source, string record, string reason);
}
