using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;

namespace ClientLb.Kubernetes.Tests.Config;

public sealed class InClusterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-incluster-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private InClusterConfig Paths(Dictionary<string, string?> env) => new()
    {
        TokenPath = Path.Combine(_dir, "token"),
        CaPath = Path.Combine(_dir, "ca.crt"),
        NamespacePath = Path.Combine(_dir, "namespace"),
        Environment = k => env.GetValueOrDefault(k),
    };

    private static Dictionary<string, string?> Env(string host = "10.96.0.1", string port = "443") =>
        new() { ["KUBERNETES_SERVICE_HOST"] = host, ["KUBERNETES_SERVICE_PORT"] = port };

    private void WriteAll()
    {
        File.WriteAllText(Path.Combine(_dir, "token"), "token-one");
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), KubeconfigTests.SelfSigned("cluster-ca").CertPem);
        File.WriteAllText(Path.Combine(_dir, "namespace"), "payments\n");
    }

    [Fact]
    public void Builds_the_server_url_namespace_ca_and_token_file()
    {
        WriteAll();
        KubernetesClientConfiguration config = Paths(Env()).Load();
        Assert.Equal(new Uri("https://10.96.0.1:443/"), new Uri(config.Host));
        Assert.Equal("payments", config.Namespace);
        Assert.Equal("CN=cluster-ca", Assert.Single(config.SslCaCerts!).Subject);
        Assert.Equal(Path.Combine(_dir, "token"), Assert.IsType<FileTokenProvider>(config.TokenProvider).Path);
        Assert.Equal("https://[fd00::1]:6443/", Paths(Env("fd00::1", "6443")).Load().Host);
    }

    [Fact]
    public void The_token_file_is_read_again_when_it_rotates()
    {
        WriteAll();
        FileTokenProvider tokens = Assert.IsType<FileTokenProvider>(Paths(Env()).Load().TokenProvider);
        Assert.Equal("token-one", tokens.GetToken());
        string path = Path.Combine(_dir, "token");
        // kubelet swaps the file atomically; a new length and time mark the change.
        File.WriteAllText(path + ".new", "token-two-rotated");
        File.Move(path + ".new", path, overwrite: true);
        Assert.Equal("token-two-rotated", tokens.GetToken());
        // A rotation that momentarily removes the file keeps the last token rather than failing requests.
        File.Delete(path);
        Assert.Equal("token-two-rotated", tokens.GetToken());
        Assert.Equal("FileTokenProvider (redacted)", tokens.ToString());
    }

    [Theory]
    [InlineData(null, "443", "KUBERNETES_SERVICE_HOST")]
    [InlineData("10.0.0.1", null, "KUBERNETES_SERVICE_PORT")]
    [InlineData("10.0.0.1", "http", "KUBERNETES_SERVICE_PORT")]
    [InlineData("10.0.0.1", "70000", "KUBERNETES_SERVICE_PORT")]
    public void Bad_environment_is_named(string? host, string? port, string key)
    {
        WriteAll();
        var env = new Dictionary<string, string?> { ["KUBERNETES_SERVICE_HOST"] = host, ["KUBERNETES_SERVICE_PORT"] = port };
        KubernetesConfigException ex = Assert.Throws<KubernetesConfigException>(() => Paths(env).Load());
        Assert.Equal(key, ex.Key);
    }

    [Theory]
    [InlineData("token", "token file does not exist")]
    [InlineData("ca.crt", "CA bundle cannot be read")]
    public void Missing_files_are_named(string file, string reason)
    {
        WriteAll();
        File.Delete(Path.Combine(_dir, file));
        KubernetesConfigException ex = Assert.Throws<KubernetesConfigException>(() => Paths(Env()).Load());
        Assert.Equal(Path.Combine(_dir, file), ex.File);
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void An_empty_namespace_file_is_named()
    {
        WriteAll();
        File.WriteAllText(Path.Combine(_dir, "namespace"), "  ");
        KubernetesConfigException ex = Assert.Throws<KubernetesConfigException>(() => Paths(Env()).Load());
        Assert.Equal(Path.Combine(_dir, "namespace"), ex.File);
    }

    [Fact]
    public void Auto_mode_prefers_in_cluster_then_kubeconfig_then_nothing()
    {
        WriteAll();
        var options = new KubernetesSourceOptions { InCluster = Paths(Env()) };
        Assert.Equal("in-cluster service account", KubernetesConnection.Origin(KubernetesConnection.TryResolve(options, out _)!));

        var none = new KubernetesSourceOptions { InCluster = Paths([]) };
        // Not in a pod, no KUBECONFIG and a HOME without .kube: nothing, with the reason.
        Assert.Null(KubernetesConnection.TryResolve(none, out string reason, k => k == "HOME" ? _dir : null));
        Assert.Contains("KUBERNETES_SERVICE_HOST", reason);

        var demanded = new KubernetesSourceOptions { Mode = KubernetesConfigMode.InCluster, InCluster = Paths([]) };
        Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.TryResolve(demanded, out _));
    }
}
