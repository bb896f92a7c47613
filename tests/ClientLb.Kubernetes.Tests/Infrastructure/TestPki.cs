using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ClientLb.Kubernetes.Tests.Infrastructure;

/// <summary>A root CA, an intermediate CA it signed, and server certificates the intermediate signs for given DNS names.</summary>
public sealed class TestPki
{
    private readonly X509Certificate2 _intermediate;

    public TestPki()
    {
        using var rootKey = RSA.Create(2048);
        var rootRequest = new CertificateRequest("CN=ClientLb Test Root CA", rootKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

        using var intermediateKey = RSA.Create(2048);
        var intermediateRequest = new CertificateRequest("CN=ClientLb Test Intermediate CA", intermediateKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        intermediateRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        intermediateRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using X509Certificate2 intermediate = intermediateRequest.Create(Root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6), [1, 2, 3, 4]);
        _intermediate = intermediate.CopyWithPrivateKey(intermediateKey);
    }

    /// <summary>The root: what a kubeconfig's certificate-authority-data holds (the intermediate is not in it).</summary>
    public X509Certificate2 Root { get; }

    public string RootPemBase64 => Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(Root.ExportCertificatePem()));

    /// <summary>A server certificate for <paramref name="dnsName"/> signed by the intermediate, sent with the intermediate.</summary>
    public SslStreamCertificateContext Server(string dnsName)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=" + dnsName, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(dnsName);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using X509Certificate2 signed = request.Create(_intermediate, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(3), RandomNumberGenerator.GetBytes(8));
        using X509Certificate2 withKey = signed.CopyWithPrivateKey(key);
        // Through PKCS#12 so the key is usable by the TLS stack on every platform.
        X509Certificate2 leaf = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        return SslStreamCertificateContext.Create(leaf, [X509CertificateLoader.LoadCertificate(_intermediate.RawData)], offline: true);
    }
}
