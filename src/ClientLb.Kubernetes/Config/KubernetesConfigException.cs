namespace ClientLb.Kubernetes.Config;

/// <summary>
/// The Kubernetes client configuration (a kubeconfig file or the in-cluster files) is missing or invalid.
/// The message names the file and the key at fault; it never contains a token or key material.
/// </summary>
public sealed class KubernetesConfigException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KubernetesConfigException(string? file, string? key, string reason, Exception? inner = null)
        : base(Format(file, key, reason), inner)
    {
        File = file;
        Key = key;
    }

    /// <summary>The file at fault, if any.</summary>
    public string? File { get; }

    /// <summary>The key at fault (e.g. <c>users[name=dev].user.client-key-data</c>), if any.</summary>
    public string? Key { get; }

    private static string Format(string? file, string? key, string reason) =>
        (file, key) switch
        {
            (not null, not null) => $"Kubernetes configuration '{file}', {key}: {reason}",
            (not null, null) => $"Kubernetes configuration '{file}': {reason}",
            (null, not null) => $"Kubernetes configuration, {key}: {reason}",
            _ => "Kubernetes configuration: " + reason,
        };
}
