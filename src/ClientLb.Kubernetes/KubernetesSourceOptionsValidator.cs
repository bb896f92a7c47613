using Microsoft.Extensions.Options;

namespace ClientLb.Kubernetes;

/// <summary>Rejects invalid <see cref="KubernetesSourceOptions"/>, naming each bad option and value.</summary>
internal sealed class KubernetesSourceOptionsValidator : IValidateOptions<KubernetesSourceOptions>
{
    public ValidateOptionsResult Validate(string? name, KubernetesSourceOptions options)
    {
        var errors = new List<string>();
        void Positive(TimeSpan value, string option)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"KubernetesSourceOptions.{option} must be positive (got {value}).");
            }
        }
        Positive(options.RequestTimeout, nameof(options.RequestTimeout));
        Positive(options.ResyncInterval, nameof(options.ResyncInterval));
        Positive(options.ServicePollInterval, nameof(options.ServicePollInterval));
        Positive(options.ReconnectDelay, nameof(options.ReconnectDelay));
        Positive(options.StaleAfter, nameof(options.StaleAfter));
        if (options.WatchTimeout < TimeSpan.FromSeconds(1))
        {
            errors.Add($"KubernetesSourceOptions.WatchTimeout must be at least 1 second (got {options.WatchTimeout}).");
        }
        if (options.MaxReconnectDelay < options.ReconnectDelay)
        {
            errors.Add($"KubernetesSourceOptions.MaxReconnectDelay ({options.MaxReconnectDelay}) must not be less than ReconnectDelay ({options.ReconnectDelay}).");
        }
        if (options.MaxEventBytes < 64 * 1024)
        {
            errors.Add($"KubernetesSourceOptions.MaxEventBytes must be at least 65536 (got {options.MaxEventBytes}).");
        }
        if (options.NamespaceWatchThreshold < 1)
        {
            errors.Add($"KubernetesSourceOptions.NamespaceWatchThreshold must be at least 1 (got {options.NamespaceWatchThreshold}).");
        }
        if (!Enum.IsDefined(options.Mode))
        {
            errors.Add($"KubernetesSourceOptions.Mode '{options.Mode}' is not one of Auto, InCluster, Kubeconfig.");
        }
        if (options.FallbackOnForbidden is { } kind && (kind.Length == 0 || kind == "kubernetes"))
        {
            errors.Add($"KubernetesSourceOptions.FallbackOnForbidden '{kind}' must name another source kind, e.g. 'dns'.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
