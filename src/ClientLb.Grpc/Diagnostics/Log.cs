using Microsoft.Extensions.Logging;

namespace ClientLb.Grpc.Diagnostics;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Service {Service}: retrying {Method} (attempt {Attempt}) after {Reason} from {Endpoint}")]
    public static partial void Retrying(ILogger logger, string service, string method, int attempt, string reason, string endpoint);

    [LoggerMessage(2, LogLevel.Warning, "Service {Service}: not retrying {Method} after {Reason} from {Endpoint}: the retry budget is spent")]
    public static partial void RetryBudgetExhausted(ILogger logger, string service, string method, string reason, string endpoint);

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
