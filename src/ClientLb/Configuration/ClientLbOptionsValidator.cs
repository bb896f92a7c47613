using ClientLb.LoadBalancing;
using ClientLb.ServiceDiscovery;
using Microsoft.Extensions.Options;

namespace ClientLb.Configuration;

/// <summary>Rejects options that cannot work, naming each value at fault; nothing invalid is ignored silently.</summary>
internal sealed class ClientLbOptionsValidator(IEnumerable<ILoadBalancingPolicy> policies) : IValidateOptions<ClientLbOptions>
{
    public ValidateOptionsResult Validate(string? name, ClientLbOptions options)
    {
        var failures = new List<string>();
        var known = policies.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
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
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
