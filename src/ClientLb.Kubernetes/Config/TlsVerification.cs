using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// Verifies the API server's certificate on KubernetesClient's own <see cref="SocketsHttpHandler"/>, installed through
/// its <c>KubernetesClientConfiguration.FirstMessageHandlerSetup</c> hook. KubernetesClient's check (with a configured
/// certificate-authority) accepts a certificate issued by that CA for any name once the chain needed the custom root,
/// and says nothing about why a certificate was refused; this one checks the name (<c>tls-server-name</c> when set, as
/// kubectl), builds the chain through the intermediates the server sent, and refuses with the reason.
/// </summary>
internal static class TlsVerification
{
    /// <summary>
    /// Moves the configuration's CAs into ClientLb's check (KubernetesClient would otherwise install its own callback over
    /// it) when TLS is verified; a configuration that skips verification is left as it is.
    /// </summary>
    public static void Install(k8s.KubernetesClientConfiguration config)
    {
        if (config.SkipTlsVerify || !Uri.TryCreate(config.Host, UriKind.Absolute, out Uri? server) || server.Scheme != "https")
        {
            return;
        }
        X509Certificate2Collection? cas = config.SslCaCerts is { Count: > 0 } configured ? configured : null;
        config.SslCaCerts = null;
        string host = config.TlsServerName is { Length: > 0 } name ? name : server.IdnHost;
        Action<SocketsHttpHandler>? earlier = config.FirstMessageHandlerSetup;
        config.FirstMessageHandlerSetup = handler =>
        {
            earlier?.Invoke(handler);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                Verify(certificate, chain, errors, cas, host) is string why ? throw new AuthenticationException(why) : true;
        };
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
            chain.ChainPolicy.ExtraStore.AddRange(serverChain.ChainPolicy.ExtraStore);
        }
        return chain.Build(leaf) ? null
            : $"the server's certificate ({leaf.Subject}) does not chain to the configured certificate-authority: {string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()))}";
    }
}
