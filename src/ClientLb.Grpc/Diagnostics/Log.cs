using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Diagnostics;

internal static partial class Log
{
    // Event ids 1 and 2 (retries, a spent retry budget) are logged by ClientLb's shared attempt loop.
    [LoggerMessage(3, LogLevel.Information, "Service {Service}: endpoint {Endpoint} is {State} by its health check ({Reason})")]
    public static partial void HealthChanged(ILogger logger, string service, string endpoint, string state, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Service {Service}: endpoint {Endpoint} does not implement grpc.health.v1.Health; it is treated as serving")]
    public static partial void HealthUnimplemented(ILogger logger, string service, string endpoint);

    [LoggerMessage(5, LogLevel.Debug, "Service {Service}: health check of {Endpoint} failed ({Failures} in a row): {Reason}")]
    public static partial void HealthCheckFailed(ILogger logger, string service, string endpoint, int failures, string reason);

    [LoggerMessage(6, LogLevel.Error, "Service {Service}: the health-check loop failed")]
    public static partial void HealthLoopFailed(ILogger logger, string service, Exception exception);

    [LoggerMessage(7, LogLevel.Error, "Service {Service}: the clientlb resolver stopped following the service")]
    public static partial void ResolverFailed(ILogger logger, string service, Exception exception);
}
