using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClientLb.Grpc.Tests.Infrastructure;
using Greet;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>https addresses: HTTP/2 negotiated by ALPN with grpc-js, the service name as TLS SNI and certificate name.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task HttpsCalls_NegotiateH2ByAlpn_AndVerifyTheServiceNameNotThePodAddress()
    {
        string directory = Directory.CreateTempSubdirectory("clientlb-grpc-tls").FullName;
        try
        {
            using X509Certificate2 certificate = CreateCertificate("greeter");
            await File.WriteAllTextAsync(Path.Combine(directory, "cert.pem"), certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(directory, "key.pem"), certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
            var seen = new List<SslPolicyErrors>();
            await using GreeterCluster cluster = await GreeterCluster.StartAsync(2,
                peerArgs: ["--tls-cert", Path.Combine(directory, "cert.pem"), "--tls-key", Path.Combine(directory, "key.pem")],
                services: s => s.Configure<ClientLbOptions>(o => o.ConfigureTransport = handler =>
                    handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                    {
                        lock (seen)
                        {
                            seen.Add(errors);
                        }
                        // Trust only this certificate; the name must have matched (SNI and host are the service name).
                        return cert is not null && cert.GetCertHashString() == certificate.GetCertHashString() && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
                    }),
                https: true);
            var servers = new HashSet<string>();
            for (int i = 0; i < 4; i++)
            {
                servers.Add((await cluster.HelloAsync("tls")).Server);
            }

            Assert.Equal(["b1", "b2"], servers.Order());
            Assert.NotEmpty(seen);
            Assert.All(seen, errors => Assert.Equal(SslPolicyErrors.None, errors & SslPolicyErrors.RemoteCertificateNameMismatch));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_clientlb_channel_with_ssl_credentials_checks_the_service_name_not_the_pod_address()
    {
        string directory = Directory.CreateTempSubdirectory("clientlb-grpc-tls").FullName;
        try
        {
            using X509Certificate2 certificate = CreateCertificate("greeter");
            string cert = Path.Combine(directory, "cert.pem"), key = Path.Combine(directory, "key.pem");
            await File.WriteAllTextAsync(cert, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(key, certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
            string block = $"127.0.{Interlocked.Increment(ref _nextBlock)}";
            GrpcJsPeer[] peers = await Task.WhenAll(Enumerable.Range(1, 2).Select(i => GrpcJsPeer.StartAsync($"b{i}", $"{block}.{i + 1}", "--tls-cert", cert, "--tls-key", key)));
            try
            {
                var values = new Dictionary<string, string?>();
                for (int i = 0; i < peers.Length; i++)
                {
                    values[$"ClientLb:Services:greeter:Endpoints:{i}"] = peers[i].Authority;
                }
                var services = new ServiceCollection();
                services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
                services.AddClientLbGrpc();
                await using ServiceProvider provider = services.BuildServiceProvider();
                var seen = new List<SslPolicyErrors>();
                // A SocketsHttpHandler keeps grpc-dotnet's balancing; it trusts only this certificate, and only for its name.
                var handler = new SocketsHttpHandler();
                handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, errors) =>
                {
                    lock (seen)
                    {
                        seen.Add(errors);
                    }
                    return presented is not null && presented.GetCertHashString() == certificate.GetCertHashString() && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
                };
                using GrpcChannel channel = GrpcChannel.ForAddress("clientlb:///greeter", new GrpcChannelOptions
                {
                    ServiceProvider = provider,
                    Credentials = ChannelCredentials.SecureSsl,
                    HttpHandler = handler,
                    ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new LoadBalancingConfig(ClientLb.Grpc.Resolution.ClientLbBalancerFactory.RoundRobin) } },
                });

                await GreeterCalls.WaitForAllAsync(new Greeter.GreeterClient(channel), 2);

                Assert.NotEmpty(seen);
                Assert.All(seen, errors => Assert.Equal(SslPolicyErrors.None, errors & SslPolicyErrors.RemoteCertificateNameMismatch));
            }
            finally
            {
                foreach (GrpcJsPeer peer in peers)
                {
                    await peer.DisposeAsync();
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static int _nextBlock = 200;

    private static X509Certificate2 CreateCertificate(string dnsName)
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(dnsName);
        request.CertificateExtensions.Add(names.Build());
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}
