namespace ClientLb.Kubernetes.Config;

/// <summary>
/// A kubeconfig <c>user.exec</c> credential plugin (client.authentication.k8s.io), as cloud CLIs use it
/// (<c>aws eks get-token</c>, <c>gke-gcloud-auth-plugin</c>, <c>kubelogin</c>): a command that prints an
/// <c>ExecCredential</c> with a bearer token. ClientLb runs it without a terminal and caches the token until it expires.
/// </summary>
/// <param name="Command">The command (a relative path with a directory is relative to the kubeconfig file).</param>
/// <param name="ApiVersion"><c>client.authentication.k8s.io/v1</c> or <c>client.authentication.k8s.io/v1beta1</c>.</param>
/// <param name="Arguments">The arguments.</param>
/// <param name="Environment">Extra environment variables.</param>
/// <param name="InteractiveMode"><c>Never</c> or <c>IfAvailable</c> (<c>Always</c> needs a terminal and is refused).</param>
/// <param name="ProvideClusterInfo">Whether the cluster's server and CA are passed in <c>KUBERNETES_EXEC_INFO</c>.</param>
/// <param name="InstallHint">What to tell the user when the command cannot be found.</param>
/// <param name="Key">Where it was configured (file and key), for messages.</param>
public sealed record ExecCredentialPlugin(string Command, string ApiVersion, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment,
    string InteractiveMode, bool ProvideClusterInfo, string? InstallHint, (string? File, string Key) Key)
{
    /// <summary>The API versions of the ExecCredential protocol this client speaks.</summary>
    public static readonly IReadOnlyList<string> SupportedApiVersions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

    /// <summary>
    /// The plugin of a kubeconfig user as KubernetesClient read it (<paramref name="exec"/>) plus the <c>interactiveMode</c>
    /// its model drops, validated the way client-go validates it.
    /// </summary>
    internal static ExecCredentialPlugin From(k8s.KubeConfigModels.ExternalExecution exec, string? interactiveMode, string file, string key)
    {
        string command = exec.Command is { Length: > 0 } c ? c : throw new KubernetesConfigException(file, key + ".command", "is missing");
        string apiVersion = exec.ApiVersion is { Length: > 0 } v ? v : throw new KubernetesConfigException(file, key + ".apiVersion",
            $"is missing (use one of {string.Join(", ", SupportedApiVersions)})");
        if (!SupportedApiVersions.Contains(apiVersion))
        {
            throw new KubernetesConfigException(file, key + ".apiVersion", $"'{apiVersion}' is not supported (use one of {string.Join(", ", SupportedApiVersions)})");
        }
        // client-go: v1 must say it; v1beta1 defaults to IfAvailable.
        string mode = interactiveMode ?? (apiVersion.EndsWith("/v1", StringComparison.Ordinal)
            ? throw new KubernetesConfigException(file, key + ".interactiveMode", "is required with apiVersion " + apiVersion + " (Never or IfAvailable)")
            : "IfAvailable");
        if (mode is not ("Never" or "IfAvailable" or "Always"))
        {
            throw new KubernetesConfigException(file, key + ".interactiveMode", $"'{mode}' is not one of Never, IfAvailable, Always");
        }
        if (mode == "Always")
        {
            throw new KubernetesConfigException(file, key + ".interactiveMode",
                "is Always, but ClientLb runs plugins without a terminal; use a plugin mode that works non-interactively (Never or IfAvailable)");
        }
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Dictionary<string, string>? variable in exec.EnvironmentVariables ?? [])
        {
            string name = variable?.GetValueOrDefault("name") is { Length: > 0 } n ? n : throw new KubernetesConfigException(file, key + ".env", "has an entry without a name");
            environment[name] = variable.GetValueOrDefault("value") ?? "";
        }
        // As client-go: a command with a directory part is relative to the kubeconfig; a bare name is looked up on PATH.
        if (command.Contains('/', StringComparison.Ordinal) && !Path.IsPathRooted(command))
        {
            command = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".", command));
        }
        return new ExecCredentialPlugin(command, apiVersion, [.. exec.Arguments ?? []], environment, mode, exec.ProvideClusterInfo, exec.InstallHint, (file, key));
    }

    /// <summary>The command and arguments, for messages (no environment values: they may hold secrets).</summary>
    public override string ToString() => Arguments.Count == 0 ? Command : Command + " " + string.Join(' ', Arguments);
}
