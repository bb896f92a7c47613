namespace ClientLb.Kubernetes.Config;

/// <summary>Finds the API server configuration the way <see cref="KubernetesConfigMode"/> describes.</summary>
public static class KubernetesConfigResolver
{
    /// <summary>
    /// Returns the configuration, or null in <see cref="KubernetesConfigMode.Auto"/> when there is none (not in a pod,
    /// no kubeconfig). <paramref name="reason"/> says what was looked for.
    /// </summary>
    /// <exception cref="KubernetesConfigException">A configuration was found (or demanded) but is invalid or missing.</exception>
    public static KubernetesClientConfiguration? TryResolve(KubernetesSourceOptions options, out string reason, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        InClusterConfig inCluster = options.InCluster ?? new InClusterConfig { Environment = environment ?? Environment.GetEnvironmentVariable };
        environment ??= inCluster.Environment;
        IReadOnlyList<string> paths = options.KubeconfigPath is { Length: > 0 } explicitPath
            ? [.. explicitPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
            : KubeconfigLoader.DefaultPaths(environment);
        reason = "";
        switch (options.Mode)
        {
            case KubernetesConfigMode.InCluster:
                return inCluster.Load();
            case KubernetesConfigMode.Kubeconfig:
                if (paths.Count == 0)
                {
                    throw new KubernetesConfigException(null, "KUBECONFIG", "no kubeconfig: set KubernetesSourceOptions.KubeconfigPath or KUBECONFIG, or create ~/.kube/config");
                }
                return KubeconfigLoader.Load(paths, options.Context);
            default:
                if (options.KubeconfigPath is { Length: > 0 })
                {
                    return KubeconfigLoader.Load(paths, options.Context);
                }
                if (inCluster.IsAvailable)
                {
                    return inCluster.Load();
                }
                if (paths.Count > 0)
                {
                    return KubeconfigLoader.Load(paths, options.Context);
                }
                reason = "not in a pod (KUBERNETES_SERVICE_HOST unset), no KUBECONFIG and no ~/.kube/config";
                return null;
        }
    }
}
