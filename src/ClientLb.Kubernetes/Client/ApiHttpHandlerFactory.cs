using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using ClientLb.Kubernetes.Config;

namespace ClientLb.Kubernetes.Client;

/// <summary>Builds the SocketsHttpHandler for the API server: TLS verified against the configured CA unless told otherwise.</summary>
internal static class ApiHttpHandlerFactory
{
    /// <param name="config">The configuration.</param>
    /// <param name="refused">Told why a server certificate was refused, so the connection error can say it.</param>
    public static SocketsHttpHandler Create(KubernetesClientConfiguration config, Action<string>? refused = null)
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
        if (config.ClientCertificate is not null)
        {
            ssl.ClientCertificates = new X509CertificateCollection { config.ClientCertificate };
        }
        if (config.SkipTlsVerify)
        {
            ssl.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (config.CertificateAuthorities is { Count: > 0 } || config.TlsServerName is not null)
        {
            // SocketsHttpHandler checks the name against the URL's host; with tls-server-name (as kubectl) the certificate
            // must name that instead, so the name is checked here.
            X509Certificate2Collection? cas = config.CertificateAuthorities is { Count: > 0 } configured ? configured : null;
            string host = config.TlsServerName ?? config.Server.IdnHost;
            ssl.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                string? why = Verify(certificate, chain, errors, cas, host);
                if (why is not null)
                {
                    refused?.Invoke(why);
                }
                return why is null;
            };
        }
        return handler;
    }

    /// <summary>
    /// Why the server's certificate is refused, or null when it is accepted: it must name <paramref name="host"/> and chain
    /// (through the intermediates the server sent) to one of <paramref name="cas"/>, or to the system store when null.
    /// </summary>
    internal static string? Verify(X509Certificate? certificate, X509Chain? serverChain, SslPolicyErrors errors, X509Certificate2Collection? cas, string host)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            return "the server sent no certificate";
        }
        X509Certificate2 leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (!leaf.MatchesHostname(host))
        {
            return $"the server's certificate ({leaf.Subject}) is not valid for the name '{host}'";
        }
        if (cas is null)
        {
            // The system store decided; only its name check is replaced by the one above.
            return (errors & SslPolicyErrors.RemoteCertificateChainErrors) == 0 ? null : $"the server's certificate ({leaf.Subject}) does not chain to a trusted CA";
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // The intermediates the server sent, as kubectl uses them.
        if (serverChain is not null)
        {
            foreach (X509ChainElement element in serverChain.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        return chain.Build(leaf) ? null
            : $"the server's certificate ({leaf.Subject}) does not chain to the configured certificate-authority: {string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()))}";
    }
}
