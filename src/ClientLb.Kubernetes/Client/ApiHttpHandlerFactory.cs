using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using ClientLb.Kubernetes.Config;

namespace ClientLb.Kubernetes.Client;

/// <summary>Builds the SocketsHttpHandler for the API server: TLS verified against the configured CA unless told otherwise.</summary>
internal static class ApiHttpHandlerFactory
{
    public static SocketsHttpHandler Create(KubernetesClientConfiguration config)
    {
        var handler = new SocketsHttpHandler
        {
            // Every watch is a long-lived stream: with HTTP/2 they share connections, more when a server caps streams.
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(15),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
        };
        if (config.Server.Scheme != "https")
        {
            return handler;
        }
        SslClientAuthenticationOptions ssl = handler.SslOptions;
        if (config.TlsServerName is not null)
        {
            ssl.TargetHost = config.TlsServerName;
        }
        if (config.ClientCertificate is not null)
        {
            ssl.ClientCertificates = new X509CertificateCollection { config.ClientCertificate };
        }
        if (config.SkipTlsVerify)
        {
            ssl.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (config.CertificateAuthorities is { Count: > 0 } cas)
        {
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) => Verify(certificate, errors, cas);
        }
        return handler;
    }

    /// <summary>Trusts only the configured CAs; a wrong host name still fails.</summary>
    internal static bool Verify(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection cas)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        X509Certificate2 leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
