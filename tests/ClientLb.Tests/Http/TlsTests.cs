using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClientLb.Tests.Infrastructure;

namespace ClientLb.Tests.Http;

public class TlsTests
{
    private static X509Certificate2 CreateCertificate(string dnsName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    [Fact]
    public async Task Sni_and_certificate_name_are_the_logical_service_name()
    {
        using X509Certificate2 certificate = CreateCertificate("payments");
        await using TestBackend a = await TestBackend.StartAsync("a", "127.0.2.2", certificate: certificate);
        await using TestBackend b = await TestBackend.StartAsync("b", "127.0.2.3", certificate: certificate);
        var errorsSeen = new List<SslPolicyErrors>();
        await using var host = new ClientLbTestHost(ClientLbTestHost.Endpoints("payments", a.Authority, b.Authority), options: o =>
            o.ConfigureTransport = handler => handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            {
                lock (errorsSeen)
                {
                    errorsSeen.Add(errors);
                }
                // Trust our self-signed certificate (an untrusted root), but nothing else: a name mismatch would fail.
                return cert is not null && cert.GetCertHashString() == certificate.GetCertHashString() && errors == SslPolicyErrors.RemoteCertificateChainErrors;
            });
        HttpClient client = host.CreateClient("https://payments");
        for (int i = 0; i < 4; i++)
        {
            string body = await client.GetStringAsync("/");
            Assert.Equal("payments", body.Split('|')[1]);
        }
        Assert.Equal(2, a.Requests);
        Assert.Equal(2, b.Requests);
        Assert.All(a.SniNames.Concat(b.SniNames), sni => Assert.Equal("payments", sni));
        Assert.NotEmpty(a.SniNames);
        Assert.All(errorsSeen, e => Assert.Equal(SslPolicyErrors.RemoteCertificateChainErrors, e));
    }

    [Fact]
    public async Task An_endpoint_scheme_from_configuration_is_used_for_a_scheme_preference_list()
    {
        using X509Certificate2 certificate = CreateCertificate("payments");
        await using TestBackend secure = await TestBackend.StartAsync("secure", "127.0.2.4", certificate: certificate);
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("payments", "https://" + secure.Authority);
        await using var host = new ClientLbTestHost(config, options: o =>
            o.ConfigureTransport = handler => handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString());
        HttpClient client = host.CreateClient("https+http://payments");
        string body = await client.GetStringAsync("/x");
        Assert.StartsWith("secure|payments", body);
    }
}
