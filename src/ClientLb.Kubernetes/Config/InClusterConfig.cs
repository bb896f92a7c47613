using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// The in-cluster configuration of a pod: <c>KUBERNETES_SERVICE_HOST</c>/<c>_PORT</c>, the service-account token
/// (re-read when it rotates), CA bundle and namespace files. Every path can be overridden (tests, sidecars).
/// </summary>
public sealed class InClusterConfig
{
    /// <summary>The standard service-account directory.</summary>
    public const string DefaultDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>The token file.</summary>
    public string TokenPath { get; init; } = DefaultDirectory + "/token";

    /// <summary>The CA bundle that signs the API server certificate.</summary>
    public string CaPath { get; init; } = DefaultDirectory + "/ca.crt";

    /// <summary>The file holding the pod's namespace.</summary>
    public string NamespacePath { get; init; } = DefaultDirectory + "/namespace";

    /// <summary>Reads environment variables; <see cref="Environment.GetEnvironmentVariable(string)"/> by default.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>True when the environment says this process runs in a pod (both variables set).</summary>
    public bool IsAvailable => !string.IsNullOrEmpty(Environment("KUBERNETES_SERVICE_HOST")) && !string.IsNullOrEmpty(Environment("KUBERNETES_SERVICE_PORT"));

    /// <summary>
    /// Builds KubernetesClient's configuration as its <c>InClusterConfig()</c> does, from these paths (KubernetesClient's
    /// are fixed), with a token re-read when it rotates and errors that name the variable or file at fault.
    /// </summary>
    /// <exception cref="KubernetesConfigException">A variable or file is missing or invalid; the message names it.</exception>
    public k8s.KubernetesClientConfiguration Load(TimeProvider? time = null)
    {
        const string origin = "in-cluster";
        string host = Environment("KUBERNETES_SERVICE_HOST") is { Length: > 0 } h ? h
            : throw new KubernetesConfigException(null, "KUBERNETES_SERVICE_HOST", "is not set: this process does not run in a pod (use a kubeconfig instead)");
        string portText = Environment("KUBERNETES_SERVICE_PORT") is { Length: > 0 } p ? p
            : throw new KubernetesConfigException(null, "KUBERNETES_SERVICE_PORT", "is not set");
        if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new KubernetesConfigException(null, "KUBERNETES_SERVICE_PORT", $"'{portText}' is not a TCP port");
        }
        string authority = IPAddress.TryParse(host, out IPAddress? ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        if (!Uri.TryCreate($"https://{authority}:{port}/", UriKind.Absolute, out Uri? server))
        {
            throw new KubernetesConfigException(null, "KUBERNETES_SERVICE_HOST", $"'{host}' is not a host name or address");
        }
        if (!File.Exists(TokenPath))
        {
            throw new KubernetesConfigException(TokenPath, null, "the service-account token file does not exist (is automountServiceAccountToken false?)");
        }
        var cas = new X509Certificate2Collection();
        try
        {
            cas.ImportFromPem(File.ReadAllText(CaPath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new KubernetesConfigException(CaPath, null, "the CA bundle cannot be read: " + ex.Message, ex);
        }
        if (cas.Count == 0)
        {
            throw new KubernetesConfigException(CaPath, null, "the CA bundle holds no PEM certificate");
        }
        string? ns = null;
        if (File.Exists(NamespacePath))
        {
            ns = File.ReadAllText(NamespacePath).Trim();
            if (ns.Length == 0)
            {
                throw new KubernetesConfigException(NamespacePath, null, "the namespace file is empty");
            }
        }
        return new k8s.KubernetesClientConfiguration
        {
            Host = server.ToString(),
            Namespace = ns,
            SslCaCerts = cas,
            TokenProvider = new FileTokenProvider(TokenPath, origin, time ?? TimeProvider.System),
        };
    }
}
