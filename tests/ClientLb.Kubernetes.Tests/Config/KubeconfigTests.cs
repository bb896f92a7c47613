using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;

namespace ClientLb.Kubernetes.Tests.Config;

public sealed class KubeconfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-kubeconfig-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    internal static (string CertPem, string KeyPem) SelfSigned(string cn)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + cn, key, HashAlgorithmName.SHA256);
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private static string Config(string cluster, string user, string context = "ctx", string? ns = "team-a", string current = "ctx") => $"""
        apiVersion: v1
        kind: Config
        current-context: {current}
        clusters:
        - name: c1
          cluster:
        {cluster}
        users:
        - name: u1
          user:
        {user}
        contexts:
        - name: {context}
          context:
            cluster: c1
            user: u1
        {(ns is null ? "" : "    namespace: " + ns)}
        """;

    [Fact]
    public void Reads_server_namespace_token_and_ca_data()
    {
        (string ca, _) = SelfSigned("test-ca");
        string path = Write("config", Config(
            $"    server: https://127.0.0.1:6443\n    certificate-authority-data: {B64(ca)}\n    tls-server-name: api.internal",
            "    token: s3cr3t-token"));
        KubernetesClientConfiguration config = KubernetesConnection.Load(path);
        Assert.Equal(new Uri("https://127.0.0.1:6443"), new Uri(config.Host));
        Assert.Equal("team-a", config.Namespace);
        Assert.Equal("s3cr3t-token", config.AccessToken);
        Assert.Equal("api.internal", config.TlsServerName);
        Assert.False(config.SkipTlsVerify);
        X509Certificate2 loaded = Assert.Single(config.SslCaCerts!);
        Assert.Equal("CN=test-ca", loaded.Subject);
        Assert.Equal("ctx", config.CurrentContext);
        Assert.Contains("context 'ctx'", KubernetesConnection.Describe(config));
        Assert.DoesNotContain("s3cr3t", KubernetesConnection.Describe(config));
    }

    [Fact]
    public async Task Reads_ca_and_client_certificate_from_files_relative_to_the_kubeconfig()
    {
        (string ca, _) = SelfSigned("file-ca");
        (string cert, string key) = SelfSigned("client");
        Directory.CreateDirectory(Path.Combine(_dir, "pki"));
        Write("pki/ca.crt", ca);
        Write("pki/client.crt", cert);
        Write("pki/client.key", key);
        Write("pki/token", "file-token\n");
        string path = Write("config", Config(
            "    server: https://127.0.0.1:6443\n    certificate-authority: pki/ca.crt",
            "    client-certificate: pki/client.crt\n    client-key: pki/client.key\n    tokenFile: pki/token"));
        KubernetesClientConfiguration config = KubernetesConnection.Load(path);
        Assert.Equal("CN=file-ca", Assert.Single(config.SslCaCerts!).Subject);
        Assert.Equal(Path.Combine(_dir, "pki", "client.crt"), config.ClientCertificateFilePath);
        Assert.Equal(Path.Combine(_dir, "pki", "client.key"), config.ClientKeyFilePath);
        // tokenFile is ClientLb's addition (KubernetesClient's model has no such field).
        FileTokenProvider tokens = Assert.IsType<FileTokenProvider>(config.TokenProvider);
        Assert.Equal(Path.Combine(_dir, "pki", "token"), tokens.Path);
        Assert.Equal("file-token", tokens.GetToken());
        using k8s.Kubernetes client = KubernetesConnection.CreateClient(config);
        Assert.Equal("Bearer file-token", (await GetHeader(config)).ToString());
    }

    [Fact]
    public void Reads_client_certificate_data_and_insecure_skip_only_when_set()
    {
        (string cert, string key) = SelfSigned("client-data");
        string path = Write("config", Config(
            "    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true",
            $"    client-certificate-data: {B64(cert)}\n    client-key-data: {B64(key)}", ns: null));
        KubernetesClientConfiguration config = KubernetesConnection.Load(path);
        Assert.True(config.SkipTlsVerify);
        Assert.Null(config.Namespace);
        Assert.NotNull(config.ClientCertificateData);
        Assert.Contains("client certificate", KubernetesConnection.Describe(config));
        Assert.Contains("TLS NOT verified", KubernetesConnection.Describe(config));

        string strict = Write("strict", Config("    server: https://127.0.0.1:6443", "    token: t"));
        Assert.False(KubernetesConnection.Load(strict).SkipTlsVerify);
    }

    [Theory]
    [InlineData("    {}")]
    [InlineData("")]
    public void A_user_without_credentials_is_anonymous_as_kubectl_has_it(string user)
    {
        // KubernetesClient refuses such a user ("does not have appropriate auth credentials"); the sandbox writes one.
        string path = Write("config", Config("    server: http://127.0.0.1:6443", user));
        KubernetesClientConfiguration config = KubernetesConnection.Load(path);
        Assert.Null(config.AccessToken);
        Assert.Null(config.TokenProvider);
        Assert.Contains("auth: none", KubernetesConnection.Describe(config));
        using k8s.Kubernetes client = KubernetesConnection.CreateClient(config);
        Assert.Null(client.Credentials);
    }

    [Fact]
    public void Chooses_an_explicit_context_and_merges_several_files_first_wins()
    {
        string first = Write("a", """
            apiVersion: v1
            kind: Config
            current-context: one
            clusters:
            - name: c
              cluster:
                server: http://127.0.0.1:1001
            contexts:
            - name: one
              context:
                cluster: c
            """);
        string second = Write("b", """
            apiVersion: v1
            kind: Config
            current-context: two
            clusters:
            - name: c
              cluster:
                server: http://127.0.0.1:9999
            - name: d
              cluster:
                server: http://127.0.0.1:1002
            users:
            - name: u
              user:
                token: second-token
            contexts:
            - name: two
              context:
                cluster: d
                user: u
                namespace: ns-two
            """);
        KubernetesClientConfiguration merged = KubernetesConnection.Load([first, second]);
        Assert.Equal(1001, new Uri(merged.Host).Port); // current-context and cluster c from the first file
        KubernetesClientConfiguration two = KubernetesConnection.Load([first, second], "two");
        Assert.Equal(1002, new Uri(two.Host).Port);
        Assert.Equal("ns-two", two.Namespace);
        Assert.Equal("second-token", two.AccessToken);
    }

    [Fact]
    public void Default_paths_follow_KUBECONFIG_then_home()
    {
        var env = new Dictionary<string, string?> { ["KUBECONFIG"] = $"/x/a{Path.PathSeparator}/y/b" };
        Assert.Equal(["/x/a", "/y/b"], KubernetesConnection.DefaultPaths(k => env.GetValueOrDefault(k)));
        Directory.CreateDirectory(Path.Combine(_dir, ".kube"));
        Write(".kube/config", "kind: Config");
        Assert.Equal([Path.Combine(_dir, ".kube", "config")], KubernetesConnection.DefaultPaths(_ => null, _dir));
        Assert.Empty(KubernetesConnection.DefaultPaths(_ => null, Path.Combine(_dir, "nowhere")));
    }

    public static TheoryData<string, string, string> BadFiles() => new()
    {
        { "apiVersion: v1\nkind: Config\nclusters: [\n", "not valid YAML", "" },
        { "- just\n- a list\n", "not valid YAML", "" },
        { "kind: Pod\n", "not a kubeconfig", "kind" },
        { "kind: Config\nclusters: []\n", "is not set", "current-context" },
        { "kind: Config\ncurrent-context: x\ncontexts: []\n", "the context 'x' is not defined", "current-context" },
        { "kind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context:\n    cluster: nope\n", "the cluster 'nope' is not defined", "contexts[name=x].context.cluster" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context:\n    cluster: c\n", "is missing", "clusters[name=c].cluster.server" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: ftp://host\ncontexts:\n- name: x\n  context:\n    cluster: c\n", "not an absolute http or https URL", "clusters[name=c].cluster.server" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\n    certificate-authority-data: '%%%'\ncontexts:\n- name: x\n  context:\n    cluster: c\n", "KubernetesClient cannot use the context 'x': The input is not a valid Base-64 string", "" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\n    certificate-authority-data: aGVsbG8=\ncontexts:\n- name: x\n  context:\n    cluster: c\n", "no PEM certificate", "clusters[name=c].cluster.certificate-authority-data" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\n    insecure-skip-tls-verify: maybe\ncontexts:\n- name: x\n  context:\n    cluster: c\n", "not valid YAML", "" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: ghost\n", "the user 'ghost' is not defined", "contexts[name=x].context.user" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    exec:\n      command: aws\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n", "is missing (use one of client.authentication.k8s.io/v1", "users[name=u].user.exec.apiVersion" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    exec:\n      command: aws\n      apiVersion: client.authentication.k8s.io/v1alpha1\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n", "'client.authentication.k8s.io/v1alpha1' is not supported", "users[name=u].user.exec.apiVersion" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    auth-provider:\n      name: gcp\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n", "is not supported", "users[name=u].user.auth-provider" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    tokenFile: /no/such/token\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n", "does not exist", "users[name=u].user.tokenFile" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    client-key-data: aGVsbG8=\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n", "is missing while a client key is set", "users[name=u].user.client-certificate-data" },
        { "kind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster: []\ncontexts:\n- name: x\n  context:\n    cluster: c\n", "not valid YAML", "" },
        { "kind: Config\nclusters:\n- cluster: {}\n", "is not set", "current-context" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_files_fail_naming_the_file_and_the_key(string yaml, string reason, string key)
    {
        string path = Write("bad", yaml);
        KubernetesConfigException ex = Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.Load(path));
        Assert.Equal(path, ex.File);
        Assert.Contains(path, ex.Message);
        Assert.Contains(reason, ex.Message);
        if (key.Length > 0)
        {
            Assert.Equal(key, ex.Key);
            Assert.Contains(key, ex.Message);
        }
    }

    [Fact]
    public void A_key_that_does_not_match_its_certificate_is_named()
    {
        (string cert, _) = SelfSigned("a");
        (_, string otherKey) = SelfSigned("b");
        string path = Write("config", Config("    server: https://h", $"    client-certificate-data: {B64(cert)}\n    client-key-data: {B64(otherKey)}"));
        KubernetesConfigException ex = Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.Load(path));
        Assert.Equal("users[name=u1].user.client-key-data", ex.Key);
    }

    private static Task<System.Net.Http.Headers.AuthenticationHeaderValue> GetHeader(KubernetesClientConfiguration config) =>
        config.TokenProvider!.GetAuthenticationHeaderAsync(CancellationToken.None);

    [Fact]
    public void A_missing_file_is_named()
    {
        string path = Path.Combine(_dir, "absent");
        KubernetesConfigException ex = Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.Load(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("does not exist", ex.Message);
    }

    [Fact]
    public void Errors_never_quote_the_token()
    {
        string path = Write("config", """
            kind: Config
            current-context: x
            clusters:
            - name: c
              cluster:
                server: not a url
            users:
            - name: u
              user:
                token: super-secret-value
            contexts:
            - name: x
              context:
                cluster: c
                user: u
            """);
        KubernetesConfigException ex = Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.Load(path));
        Assert.DoesNotContain("super-secret-value", ex.ToString());
    }
}
