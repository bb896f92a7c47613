using System.Net;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Names;
using ClientLb.Sandbox;
using ClientLb.Sources;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;

namespace ClientLb.Kubernetes.Tests.Client;

public sealed class ApiClientTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-apiclient-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_403_names_the_missing_rbac_rule_and_the_source_reports_it()
    {
        await using FakeApiServer server = await FakeApiServer.StartAsync(ctx =>
            FakeApiServer.StatusAsync(ctx, 403, "Forbidden", "endpointslices.discovery.k8s.io is forbidden: User \\\"system:serviceaccount:default:app\\\" cannot list resource"));
        string kubeconfig = server.WriteKubeconfig(_dir, "token: forbidden-token-123");
        var logs = new CapturingLoggerProvider();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var factory = new KubernetesEndpointSourceFactory(Microsoft.Extensions.Options.Options.Create(TestFactory.Options(kubeconfig)), loggerFactory: loggers);
        await using IEndpointSource source = factory.Source("http://web.default");

        EndpointSourceException error = await Assert.ThrowsAsync<EndpointSourceException>(() => source.GetSnapshotAsync().AsTask().WaitAsync(Await.DefaultTimeout));
        KubernetesApiException api = Assert.IsType<KubernetesApiException>(error.InnerException);
        Assert.Equal(HttpStatusCode.Forbidden, api.StatusCode);
        foreach (string text in new[] { error.Message, api.Message })
        {
            Assert.Contains("endpointslices", text);
        }
        Assert.Contains("\"discovery.k8s.io\"", api.Message);
        Assert.Contains("\"services\"", api.Message);
        Assert.Contains("\"get\",\"list\",\"watch\"", api.Message);
        Assert.Contains(logs.Lines, l => l.Contains("403") && l.Contains("endpointslices.discovery.k8s.io"));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("forbidden-token-123"));
    }

    [Fact]
    public async Task On_403_the_configured_fallback_source_serves_the_service()
    {
        await using FakeApiServer server = await FakeApiServer.StartAsync(ctx => FakeApiServer.StatusAsync(ctx, 403, "Forbidden", "no"));
        string kubeconfig = server.WriteKubeconfig(_dir, "token: t");
        var services = new ServiceCollection();
        services.AddSingleton<IEndpointSourceFactory>(new StaticFactory("dns", "127.0.0.7:8080"));
        await using ServiceProvider provider = services.BuildServiceProvider();
        await using var factory = new KubernetesEndpointSourceFactory(
            Microsoft.Extensions.Options.Options.Create(TestFactory.Options(kubeconfig, o => o.FallbackOnForbidden = "dns")), services: provider);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.EndpointsAsync(source, e => e.Count == 1 && e[0].Authority == "127.0.0.7:8080", "the fallback's endpoint");
        Assert.Equal("kubernetes", source.Kind);
        Assert.True(((KubernetesEndpointSource)source).UsingFallback);
    }

    [Fact]
    public async Task A_rejected_token_file_is_read_again_and_tokens_never_reach_logs_or_errors()
    {
        string tokenFile = Path.Combine(_dir, "token");
        File.WriteAllText(tokenFile, "old-token-aaaa");
        await using FakeApiServer server = await FakeApiServer.StartAsync(ctx =>
            ctx.Request.Headers.Authorization == "Bearer new-token-bbbb"
                ? ctx.Response.WriteAsync("""{"metadata":{"resourceVersion":"7"},"items":[]}""")
                : FakeApiServer.StatusAsync(ctx, 401, "Unauthorized", "Unauthorized"));
        string kubeconfig = server.WriteKubeconfig(_dir, $"tokenFile: {tokenFile}");
        using var client = KubernetesApiClient.FromConfiguration(KubernetesConnection.Load(kubeconfig));

        KubernetesApiException rejected = await Assert.ThrowsAsync<KubernetesApiException>(() => client.ListServicesAsync("default", default, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
        Assert.DoesNotContain("old-token-aaaa", rejected.ToString());
        Assert.Contains("did not accept the credentials", rejected.Message);
        // Two attempts: the 401 made the client re-read the file once.
        Assert.Equal(["Bearer old-token-aaaa", "Bearer old-token-aaaa"], server.Authorizations);

        File.WriteAllText(tokenFile, "new-token-bbbb");
        KubernetesList<Service> list = await client.ListServicesAsync("default", default, CancellationToken.None);
        Assert.Equal("7", list.Metadata.ResourceVersion);
        Assert.DoesNotContain("new-token-bbbb", client.Description);
    }

    [Fact]
    public async Task A_kubeconfig_proxy_url_carries_the_requests_and_a_bad_one_is_named()
    {
        // KubernetesClient's kubeconfig model has no proxy-url: ClientLb hands it to its handler.
        await using FakeApiServer server = await FakeApiServer.StartAsync(ctx => ctx.Response.WriteAsync("""{"metadata":{"resourceVersion":"9"},"items":[]}"""));
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, server.Uri.Port));
        string kubeconfig = server.WriteKubeconfig(_dir, "token: t");
        string server2 = server.Uri.ToString().TrimEnd('/');
        File.WriteAllText(kubeconfig, File.ReadAllText(kubeconfig).Replace($"server: {server2}", $"server: {server2}\n    proxy-url: http://127.0.0.1:{proxy.Port}"));
        using (var client = KubernetesApiClient.FromConfiguration(KubernetesConnection.Load(kubeconfig)))
        {
            KubernetesList<Service> list = await client.ListServicesAsync("default", default, CancellationToken.None);
            Assert.Equal("9", list.Metadata.ResourceVersion);
        }
        Assert.True(proxy.Connections >= 1, "the request did not go through the proxy");

        File.WriteAllText(kubeconfig, File.ReadAllText(kubeconfig).Replace($"proxy-url: http://127.0.0.1:{proxy.Port}", "proxy-url: ftp://user:pw@proxy"));
        KubernetesConfigException bad = Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.Load(kubeconfig));
        Assert.Equal("clusters[name=fake].cluster.proxy-url", bad.Key);
        Assert.DoesNotContain("pw", bad.Message);
    }

    [Fact]
    public async Task Https_sandbox_with_token_and_ca_from_its_kubeconfig_speaks_http2()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { UseHttps = true });
        await TestFactory.DeployAsync(cluster, "web", 2);
        KubernetesClientConfiguration config = KubernetesConnection.Load(cluster.KubeconfigPath);
        Assert.StartsWith("https://", config.Host, StringComparison.Ordinal);
        Assert.NotNull(config.SslCaCerts);
        using var client = KubernetesApiClient.FromConfiguration(config);
        KubernetesList<EndpointSlice> slices = await client.ListEndpointSlicesAsync("default", new ListOptions("kubernetes.io/service-name=web"), CancellationToken.None);
        Assert.Equal(2, slices.Items.Sum(s => s.Endpoints?.Count ?? 0));
        Assert.Equal(HttpVersion.Version20, client.LastHttpVersion);

        var logs = new CapturingLoggerProvider();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await using KubernetesEndpointSourceFactory factory = TestFactory.Create(cluster, logs: loggers);
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.EndpointsAsync(source, e => e.Count == 2, "2 endpoints over HTTPS");
        Assert.DoesNotContain(logs.Lines, l => l.Contains(cluster.BearerToken!));
        Assert.DoesNotContain(cluster.BearerToken!, source.Description);
    }

    [Fact]
    public async Task Tls_is_verified_unless_the_kubeconfig_says_otherwise()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { UseHttps = true });
        KubernetesClientConfiguration trusted = KubernetesConnection.Load(cluster.KubeconfigPath);
        var untrusted = new KubernetesClientConfiguration { Host = trusted.Host, AccessToken = cluster.BearerToken };
        using (var client = KubernetesApiClient.FromConfiguration(untrusted))
        {
            HttpRequestException ex = await Assert.ThrowsAsync<HttpRequestException>(() => client.ListServicesAsync("default", default, CancellationToken.None));
            Assert.Contains("cannot reach the API server", ex.Message);
            Assert.DoesNotContain(cluster.BearerToken!, ex.ToString());
        }
        var skipping = new KubernetesClientConfiguration { Host = trusted.Host, AccessToken = cluster.BearerToken, SkipTlsVerify = true };
        using (var client = KubernetesApiClient.FromConfiguration(skipping))
        {
            Assert.NotNull(await client.ListServicesAsync("default", default, CancellationToken.None));
        }
        // A CA that did not sign the server's certificate is refused too.
        var otherCa = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        otherCa.ImportFromPem(Config.KubeconfigTests.SelfSigned("other-ca").CertPem);
        var wrongCa = new KubernetesClientConfiguration { Host = trusted.Host, AccessToken = cluster.BearerToken, SslCaCerts = otherCa };
        using (var client = KubernetesApiClient.FromConfiguration(wrongCa))
        {
            HttpRequestException refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.ListServicesAsync("default", default, CancellationToken.None));
            Assert.Contains("does not chain to the configured certificate-authority", refused.Message);
        }
        // Building a client leaves the caller's configuration as it was (ClientLb's check takes the CAs only while it builds).
        Assert.Same(otherCa, wrongCa.SslCaCerts);
        Assert.Null(wrongCa.FirstMessageHandlerSetup);
    }

    private sealed class StaticFactory(string kind, string endpoint) : IEndpointSourceFactory
    {
        public string Kind => kind;

        public IEndpointSource? TryCreate(ServiceName service) => new StaticSource(service, kind, endpoint);
    }

    private sealed class StaticSource(ServiceName service, string kind, string endpoint) : EndpointSource(service, kind, kind + " test")
    {
        protected override void OnStart() => Publish([Endpoints.Endpoint.Parse(endpoint)]);
    }
}
