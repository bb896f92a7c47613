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

    /// <summary>The command and arguments, for messages (no environment values: they may hold secrets).</summary>
    public override string ToString() => Arguments.Count == 0 ? Command : Command + " " + string.Join(' ', Arguments);
}
