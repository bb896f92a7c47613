using ClientLb.Grpc.Balancing;
using Microsoft.Extensions.Options;

namespace ClientLb.Grpc.Configuration;

/// <summary>Rejects invalid <see cref="ClientLbGrpcOptions"/>, naming each setting at fault.</summary>
public sealed class ClientLbGrpcOptionsValidator : IValidateOptions<ClientLbGrpcOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ClientLbGrpcOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string Section = ClientLbGrpcOptions.SectionName;
        for (int i = 0; i < options.IdempotentMethods.Count; i++)
        {
            if (!MethodSet.TryParsePattern(options.IdempotentMethods[i], out _, out string? error))
            {
                failures.Add($"{Section}:IdempotentMethods:{i} '{options.IdempotentMethods[i]}': {error}");
            }
        }
        for (int i = 0; i < options.UnaryMethods.Count; i++)
        {
            if (!MethodSet.TryParsePattern(options.UnaryMethods[i], out _, out string? error))
            {
                failures.Add($"{Section}:UnaryMethods:{i} '{options.UnaryMethods[i]}': {error}");
            }
        }
        if (options.MaxRetryAttempts is < 0 or > 10)
        {
            failures.Add($"{Section}:MaxRetryAttempts {options.MaxRetryAttempts}: must be 0-10");
        }
        if (options.MaxReplayBufferBytes < 0)
        {
            failures.Add($"{Section}:MaxReplayBufferBytes {options.MaxReplayBufferBytes}: must not be negative");
        }
        foreach ((string service, GrpcHealthCheckOptions check) in options.HealthChecks)
        {
            string prefix = $"{Section}:HealthChecks:{service}";
            if (string.IsNullOrWhiteSpace(service))
            {
                failures.Add($"{Section}:HealthChecks: an entry has an empty service name");
            }
            if (check is null)
            {
                failures.Add($"{prefix}: the entry is empty");
                continue;
            }
            if (check.Interval <= TimeSpan.Zero)
            {
                failures.Add($"{prefix}:Interval {check.Interval}: must be positive");
            }
            if (check.Timeout <= TimeSpan.Zero)
            {
                failures.Add($"{prefix}:Timeout {check.Timeout}: must be positive");
            }
            if (check.UnhealthyThreshold < 1)
            {
                failures.Add($"{prefix}:UnhealthyThreshold {check.UnhealthyThreshold}: must be at least 1");
            }
            if (check.ServiceName is null)
            {
                failures.Add($"{prefix}:ServiceName: must not be null (empty checks the whole server)");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
