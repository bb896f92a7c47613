namespace ClientLb.Names;

/// <summary>What a short name such as <c>svc</c> expands to: the namespace and the cluster domain.</summary>
/// <param name="Namespace">The namespace for names without one.</param>
/// <param name="ClusterDomain">The cluster domain, <c>cluster.local</c> unless the cluster was set up otherwise.</param>
public sealed record ServiceNameDefaults(string Namespace, string ClusterDomain = ServiceNameDefaults.DefaultClusterDomain)
{
    /// <summary>The Kubernetes default cluster domain.</summary>
    public const string DefaultClusterDomain = "cluster.local";

    /// <summary>Where a pod finds its own namespace.</summary>
    public const string ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

    /// <summary><c>default</c> namespace, <c>cluster.local</c>.</summary>
    public static ServiceNameDefaults Default { get; } = new("default");

    /// <summary>
    /// The namespace rule: the configured one if any, else the pod's service-account namespace file, else <c>default</c>.
    /// </summary>
    /// <param name="configuredNamespace">From options; wins when set.</param>
    /// <param name="clusterDomain">The cluster domain.</param>
    /// <param name="namespaceFile">The service-account namespace file (overridable for tests).</param>
    public static ServiceNameDefaults Resolve(string? configuredNamespace, string? clusterDomain = null, string namespaceFile = ServiceAccountNamespaceFile)
    {
        clusterDomain = string.IsNullOrWhiteSpace(clusterDomain) ? DefaultClusterDomain : clusterDomain.Trim().TrimEnd('.').ToLowerInvariant();
        string ns;
        if (!string.IsNullOrWhiteSpace(configuredNamespace))
        {
            ns = configuredNamespace.Trim();
        }
        else
        {
            string? fromFile = null;
            try
            {
                if (File.Exists(namespaceFile))
                {
                    fromFile = File.ReadAllText(namespaceFile).Trim();
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            ns = string.IsNullOrEmpty(fromFile) ? "default" : fromFile;
        }
        if (ServiceName.ValidateNamespaceLabel(ns) is string error)
        {
            throw new ServiceNameFormatException(ns, error);
        }
        return new ServiceNameDefaults(ns, clusterDomain);
    }
}
