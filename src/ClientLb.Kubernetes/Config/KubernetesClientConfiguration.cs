using System.Security.Cryptography.X509Certificates;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// Where the API server is and how to authenticate to it: from a kubeconfig file (<see cref="KubeconfigLoader"/>)
/// or the in-cluster service account (<see cref="InClusterConfig"/>). <see cref="ToString"/> never shows secrets.
/// </summary>
public sealed class KubernetesClientConfiguration
{
    /// <summary>Creates a configuration for <paramref name="server"/>.</summary>
    public KubernetesClientConfiguration(Uri server, string origin)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (!server.IsAbsoluteUri || server.Scheme is not ("http" or "https"))
        {
            throw new KubernetesConfigException(origin, "server", $"'{WithoutUserInfo(server)}' is not an absolute http or https URL");
        }
        Server = server;
        Origin = origin ?? throw new ArgumentNullException(nameof(origin));
        DisplayServer = WithoutUserInfo(server);
    }

    /// <summary>The API server's base URL.</summary>
    public Uri Server { get; }

    /// <summary>The API server's URL for messages: a <c>user:password@</c> in it is left out.</summary>
    public string DisplayServer { get; }

    /// <summary><paramref name="server"/> without its user info (<c>https://user:pass@host</c> is <c>https://host/</c>).</summary>
    public static string WithoutUserInfo(Uri server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.IsAbsoluteUri
            ? server.GetComponents(UriComponents.SchemeAndServer | UriComponents.PathAndQuery, UriFormat.UriEscaped)
            : "(a relative URL)";
    }

    /// <summary>Where this configuration came from (kubeconfig path and context, or <c>in-cluster</c>), for messages.</summary>
    public string Origin { get; }

    /// <summary>The default namespace (kubeconfig context namespace, or the service account's namespace).</summary>
    public string? Namespace { get; init; }

    /// <summary>The CAs that sign the API server's certificate; null trusts the system store.</summary>
    public X509Certificate2Collection? CertificateAuthorities { get; init; }

    /// <summary>The client certificate (with its private key) for mutual TLS, if any.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Skip server certificate verification. Only ever true when a kubeconfig says <c>insecure-skip-tls-verify: true</c> or the caller sets it.</summary>
    public bool SkipTlsVerify { get; init; }

    /// <summary>The server name to verify instead of the URL's host (kubeconfig <c>tls-server-name</c>).</summary>
    public string? TlsServerName { get; init; }

    /// <summary>A fixed bearer token. Never logged.</summary>
    public string? BearerToken { get; init; }

    /// <summary>A file holding the bearer token, re-read when it changes (takes precedence over <see cref="BearerToken"/>).</summary>
    public string? BearerTokenFile { get; init; }

    /// <summary>An exec credential plugin that supplies the bearer token (kubeconfig <c>user.exec</c>).</summary>
    public ExecCredentialPlugin? ExecCredential { get; init; }

    /// <summary>Whether requests carry a bearer token.</summary>
    public bool HasBearerToken => BearerToken is not null || BearerTokenFile is not null || ExecCredential is not null;

    internal BearerTokenSource? CreateTokenSource(TimeProvider time) =>
        ExecCredential is not null ? new ExecTokenSource(ExecCredential, ClusterInfo(), time)
        : BearerTokenFile is not null ? new FileTokenSource(BearerTokenFile, Origin, time)
        : BearerToken is not null ? new StaticTokenSource(BearerToken)
        : null;

    /// <summary>The cluster as client-go hands it to an exec plugin that asks for it (<c>provideClusterInfo</c>).</summary>
    private string ClusterInfo()
    {
        var cluster = new System.Text.Json.Nodes.JsonObject { ["server"] = Server.ToString().TrimEnd('/') };
        if (TlsServerName is not null)
        {
            cluster["tls-server-name"] = TlsServerName;
        }
        if (SkipTlsVerify)
        {
            cluster["insecure-skip-tls-verify"] = true;
        }
        if (CertificateAuthorities is { Count: > 0 } cas)
        {
            string pem = string.Concat(cas.Select(c => c.ExportCertificatePem() + "\n"));
            cluster["certificate-authority-data"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pem));
        }
        return cluster.ToJsonString();
    }

    /// <summary>Describes the configuration without any secret.</summary>
    public override string ToString() =>
        $"{DisplayServer} ({Origin}; auth: {(ExecCredential is not null ? "exec plugin " + ExecCredential.Command : BearerTokenFile is not null ? "token file" : BearerToken is not null ? "token" : ClientCertificate is not null ? "client certificate" : "none")}" +
        $"{(SkipTlsVerify ? "; TLS NOT verified" : "")})";
}
