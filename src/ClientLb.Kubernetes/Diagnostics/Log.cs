using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Diagnostics;

/// <summary>The Kubernetes source's log messages (event ids 100+). None of them can contain a token.</summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Debug, "Listed {What}: {Count} object(s) at resourceVersion {Version} ({Reason})")]
    public static partial void Listed(ILogger logger, string what, int count, string version, string reason);

    [LoggerMessage(101, LogLevel.Warning, "Kubernetes {What} failed ({Failures} in a row); serving the last known endpoints, retrying in {Delay}: {Error}")]
    public static partial void WatchFailed(ILogger logger, string what, int failures, TimeSpan delay, string error);

    [LoggerMessage(102, LogLevel.Information, "Kubernetes {What} reached the API server again after {Failures} failure(s)")]
    public static partial void Recovered(ILogger logger, string what, int failures);

    [LoggerMessage(103, LogLevel.Information, "Watch of {What} expired at resourceVersion {Version} (410 Gone: {Message}); re-listing")]
    public static partial void Expired(ILogger logger, string what, string? version, string? message);

    [LoggerMessage(104, LogLevel.Debug, "Watch of {What} broke after progress; resuming from resourceVersion {Version}: {Error}")]
    public static partial void WatchBroken(ILogger logger, string what, string? version, string error);

    [LoggerMessage(105, LogLevel.Information, "Namespace {Namespace}: {Count} services watched; one namespace-wide watch replaces the per-service watches (resuming the running one: {Resumed})")]
    public static partial void NamespaceWide(ILogger logger, string @namespace, int count, bool resumed);

    [LoggerMessage(106, LogLevel.Error, "Service {Service}: the API server forbids reading it (403). {Hint}")]
    public static partial void Forbidden(ILogger logger, string service, string hint);

    [LoggerMessage(107, LogLevel.Warning, "Service {Service}: falling back to the {Kind} source while the Kubernetes API answers 403 Forbidden")]
    public static partial void FallingBack(ILogger logger, string service, string kind);

    [LoggerMessage(108, LogLevel.Information, "Service {Service}: the Kubernetes API is readable again; leaving the {Kind} fallback")]
    public static partial void FallbackEnded(ILogger logger, string service, string kind);

    [LoggerMessage(109, LogLevel.Information, "The Kubernetes source does not serve {Service}: {Reason}")]
    public static partial void NotServed(ILogger logger, string service, string reason);

    [LoggerMessage(110, LogLevel.Information, "Kubernetes source using {Api}")]
    public static partial void Configured(ILogger logger, string api);

    [LoggerMessage(111, LogLevel.Warning, "Service {Service}: {Reason}")]
    public static partial void EndpointsUnavailable(ILogger logger, string service, string reason);

    [LoggerMessage(112, LogLevel.Information, "Namespace {Namespace}: only {Count} services watched; per-service watches replace the namespace-wide watch")]
    public static partial void PerServiceWatches(ILogger logger, string @namespace, int count);

    [LoggerMessage(113, LogLevel.Warning, "Kubernetes {What}: skipped {Object} (resourceVersion {Version}), which cannot be used: {Problem}")]
    public static partial void PoisonSkipped(ILogger logger, string what, string @object, string? version, string problem);

    [LoggerMessage(114, LogLevel.Information, "Service {Namespace}/{Service}: the account may get it but not list and watch services ({Reason}); reading it with get every {Interval}, EndpointSlices still watched")]
    public static partial void ServicePolled(ILogger logger, string @namespace, string service, TimeSpan interval, string reason);

    [LoggerMessage(115, LogLevel.Information, "Service {Namespace}/{Service}: list and watch on services allowed again; watching it")]
    public static partial void ServiceWatchedAgain(ILogger logger, string @namespace, string service);
}
