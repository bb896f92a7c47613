using ClientLb.Balancing.Policies;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.Options;

namespace ClientLb.Configuration;

/// <summary>Rejects options that cannot work, naming each value at fault; nothing invalid is ignored silently.</summary>
/// <param name="policyNames">The names of the registered policies (read at each validation).</param>
internal sealed class ClientLbOptionsValidator(IEnumerable<string> policyNames) : IValidateOptions<ClientLbOptions>
{
    // The longest due time a timer takes (uint.MaxValue - 1 milliseconds, about 49.7 days).
    private static readonly TimeSpan MaxIdleServiceTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    public ValidateOptionsResult Validate(string? name, ClientLbOptions options)
    {
        var failures = new List<string>();
        var known = policyNames.ToHashSet(StringComparer.OrdinalIgnoreCase);
        string section = ClientLbOptions.SectionName;

        if (options.Namespace is { Length: > 0 } ns && ServiceName.ValidateNamespaceLabel(ns) is string nsError)
        {
            failures.Add($"{section}:Namespace ('{ns}'): {nsError}");
        }
        if (!known.Contains(options.DefaultPolicy))
        {
            failures.Add($"{section}:DefaultPolicy ('{options.DefaultPolicy}'): unknown policy; known: {string.Join(", ", known.Order())}");
        }
        if (options.Retry.MaxRetryAttempts is < 0 or > 10)
        {
            failures.Add($"{section}:Retry:MaxRetryAttempts ({options.Retry.MaxRetryAttempts}): must be 0 to 10");
        }
        if (options.InitialResolutionTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{section}:InitialResolutionTimeout ({options.InitialResolutionTimeout}): must be positive");
        }
        if (options.IdleServiceTimeout < TimeSpan.Zero || options.IdleServiceTimeout > MaxIdleServiceTimeout)
        {
            failures.Add($"{section}:IdleServiceTimeout ({options.IdleServiceTimeout}): must be zero (release at once) to 49 days");
        }

        ServiceNameDefaults defaults;
        try
        {
            defaults = ServiceNameDefaults.Resolve(options.Namespace, options.ClusterDomain);
        }
        catch (ServiceNameFormatException)
        {
            defaults = ServiceNameDefaults.Default;
        }
        foreach ((string key, ServiceOptions service) in options.Services)
        {
            if (!ServiceName.TryParse(key, defaults, out _, out string? error))
            {
                failures.Add($"{section}:Services:{key}: '{key}' is not a valid service name: {error}");
            }
            if (service.Policy is { Length: > 0 } policy && !known.Contains(policy))
            {
                failures.Add($"{section}:Services:{key}:Policy ('{policy}'): unknown policy; known: {string.Join(", ", known.Order())}");
            }
            ValidateService($"{section}:Services:{key}", service, failures);
            if (service.Topology.Enabled && string.IsNullOrEmpty(options.Locality.NodeName) && string.IsNullOrEmpty(options.Locality.Zone))
            {
                failures.Add($"{section}:Services:{key}:Topology:Enabled (True): needs {section}:Locality:NodeName or {section}:Locality:Zone (e.g. from the downward API)");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // Every parameter of every policy is checked, whatever policy is chosen now: a later switch must not meet a bad value.
    private static void ValidateService(string path, ServiceOptions service, List<string> failures)
    {
        Positive(failures, path + ":PeakEwma:DecayTime", service.PeakEwma.DecayTime);
        Positive(failures, path + ":PeakEwma:DefaultLatency", service.PeakEwma.DefaultLatency);

        AffinityOptions affinity = service.Affinity;
        if (!Enum.IsDefined(affinity.Key))
        {
            failures.Add($"{path}:Affinity:Key ('{affinity.Key}'): unknown key source; known: {string.Join(", ", Enum.GetNames<AffinityKeySource>())}");
        }
        if (affinity.Key is AffinityKeySource.Header or AffinityKeySource.Cookie && string.IsNullOrWhiteSpace(affinity.Name))
        {
            failures.Add($"{path}:Affinity:Name: required when Affinity:Key is {affinity.Key} (the {(affinity.Key == AffinityKeySource.Header ? "header" : "cookie")} name)");
        }
        else if (affinity.Key == AffinityKeySource.Header && affinity.Name is { } header && !IsToken(header))
        {
            failures.Add($"{path}:Affinity:Name ('{header}'): not a valid header name");
        }
        Positive(failures, path + ":Affinity:Timeout", affinity.Timeout);

        Share(failures, path + ":Topology:MinHealthyShare", service.Topology.MinHealthyShare);

        HealthOptions health = service.Health;
        if (health.ConsecutiveConnectionFailures < 0)
        {
            failures.Add($"{path}:Health:ConsecutiveConnectionFailures ({health.ConsecutiveConnectionFailures}): must be 0 (off) or more");
        }
        if (health.ConsecutiveServerErrors < 0)
        {
            failures.Add($"{path}:Health:ConsecutiveServerErrors ({health.ConsecutiveServerErrors}): must be 0 (off) or more");
        }
        Positive(failures, path + ":Health:BaseEjectionTime", health.BaseEjectionTime);
        if (health.MaxEjectionTime < health.BaseEjectionTime)
        {
            failures.Add($"{path}:Health:MaxEjectionTime ({health.MaxEjectionTime}): must be at least Health:BaseEjectionTime ({health.BaseEjectionTime})");
        }
        Share(failures, path + ":Health:MaxEjectedShare", health.MaxEjectedShare);
        Share(failures, path + ":Health:PanicThreshold", health.PanicThreshold);
        if (health.SlowStartWindow < TimeSpan.Zero)
        {
            failures.Add($"{path}:Health:SlowStartWindow ({health.SlowStartWindow}): must be zero (off) or positive");
        }
        if (health.ProbeInterval < TimeSpan.Zero)
        {
            failures.Add($"{path}:Health:ProbeInterval ({health.ProbeInterval}): must be zero (off) or positive");
        }
        Positive(failures, path + ":Health:ProbeTimeout", health.ProbeTimeout);

        RetryBudgetOptions budget = service.RetryBudget;
        if (budget.Ratio is < 0 or > 10 || double.IsNaN(budget.Ratio))
        {
            failures.Add($"{path}:RetryBudget:Ratio ({budget.Ratio}): must be 0 to 10");
        }
        if (budget.MinRetriesPerSecond < 0)
        {
            failures.Add($"{path}:RetryBudget:MinRetriesPerSecond ({budget.MinRetriesPerSecond}): must be 0 or more");
        }
        if (budget.Window < TimeSpan.FromSeconds(1) || budget.Window > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{path}:RetryBudget:Window ({budget.Window}): must be 1 s to 10 min");
        }

        HedgingOptions hedging = service.Hedging;
        if (hedging.Delay < TimeSpan.Zero)
        {
            failures.Add($"{path}:Hedging:Delay ({hedging.Delay}): must be zero or positive");
        }
        if (hedging.MaxHedgedAttempts is < 1 or > 10)
        {
            failures.Add($"{path}:Hedging:MaxHedgedAttempts ({hedging.MaxHedgedAttempts}): must be 1 to 10");
        }
    }

    private static void Positive(List<string> failures, string path, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{path} ({value}): must be positive");
        }
    }

    private static void Share(List<string> failures, string path, double value)
    {
        if (value is < 0 or > 1 || double.IsNaN(value))
        {
            failures.Add($"{path} ({value}): must be a share from 0 to 1");
        }
    }

    // RFC 9110 token characters.
    private static bool IsToken(string name) => name.Length > 0 && name.All(c => c < 127 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)));
}
