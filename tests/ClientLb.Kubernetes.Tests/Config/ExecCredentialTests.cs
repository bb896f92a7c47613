using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Model;
using ClientLb.Sandbox;
using Microsoft.Extensions.Time.Testing;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;

namespace ClientLb.Kubernetes.Tests.Config;

/// <summary>
/// kubeconfig <c>user.exec</c> credential plugins, run for real: a shell script that counts its runs, records the
/// KUBERNETES_EXEC_INFO it got and prints the ExecCredential the test wrote for it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ExecCredentialTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-exec-").FullName;

    public ExecCredentialTests()
    {
        string script = Path.Combine(_dir, "plugin.sh");
        File.WriteAllText(script, """
            #!/bin/sh
            echo run >> "$RUNS_FILE"
            printf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_FILE"
            echo "plugin says: $MESSAGE" >&2
            cat "$OUTPUT_FILE"
            exit "$EXIT_CODE"
            """.Replace("\r", ""));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string RunsFile => Path.Combine(_dir, "runs");

    private int Runs => File.Exists(RunsFile) ? File.ReadAllLines(RunsFile).Length : 0;

    private JsonObject ExecInfo => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "info")))!;

    private void Prints(string token, DateTimeOffset? expires = null, string apiVersion = "client.authentication.k8s.io/v1") =>
        File.WriteAllText(Path.Combine(_dir, "output"), new JsonObject
        {
            ["kind"] = "ExecCredential",
            ["apiVersion"] = apiVersion,
            ["status"] = expires is null ? new JsonObject { ["token"] = token } : new JsonObject { ["token"] = token, ["expirationTimestamp"] = expires.Value.ToString("yyyy-MM-ddTHH:mm:ssZ") },
        }.ToJsonString());

    private string Kubeconfig(string server, string? caPem = null, string command = "./plugin.sh", string exitCode = "0", string extra = "      interactiveMode: Never\n      provideClusterInfo: true\n")
    {
        string ca = caPem is null ? "" : $"    certificate-authority-data: {Convert.ToBase64String(Encoding.UTF8.GetBytes(caPem))}\n";
        string path = Path.Combine(_dir, "config");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            current-context: x
            clusters:
            - name: c
              cluster:
                server: {server}
            {ca}users:
            - name: u
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: {command}
                  args: [get-token, --cluster, c]
                  installHint: install it with 'apt-get install plugin'
                  env:
                  - name: RUNS_FILE
                    value: {RunsFile}
                  - name: INFO_FILE
                    value: {Path.Combine(_dir, "info")}
                  - name: OUTPUT_FILE
                    value: {Path.Combine(_dir, "output")}
                  - name: EXIT_CODE
                    value: "{exitCode}"
                  - name: MESSAGE
                    value: token service down
            {extra}contexts:
            - name: x
              context:
                cluster: c
                user: u
            """);
        return path;
    }

    [Fact]
    public async Task The_plugins_token_is_cached_until_it_expires_and_after_a_401_it_runs_again()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        Prints("token-one", time.GetUtcNow().AddMinutes(15));
        KubernetesClientConfiguration config = KubernetesConnection.Load(Kubeconfig("https://127.0.0.1:6443"), time: time);
        Assert.Contains("exec plugin", KubernetesConnection.Describe(config));
        // Loading does not run the plugin (KubernetesClient's loader would, with its arguments joined into one string).
        Assert.Equal(0, Runs);
        ExecCredentialProvider tokens = Assert.IsType<ExecCredentialProvider>(config.TokenProvider);

        Assert.Equal("token-one", await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Equal("token-one", await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Equal(1, Runs);

        // What the plugin was told: not interactive, and the cluster (provideClusterInfo).
        JsonObject info = ExecInfo;
        Assert.Equal("ExecCredential", (string?)info["kind"]);
        Assert.False((bool)info["spec"]!["interactive"]!);
        Assert.Equal("https://127.0.0.1:6443", (string?)info["spec"]!["cluster"]!["server"]);

        Prints("token-two", time.GetUtcNow().AddMinutes(30));
        time.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal("token-one", await tokens.GetTokenAsync(CancellationToken.None));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("token-two", await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Equal(2, Runs);

        Prints("token-three");
        tokens.Invalidate();
        Assert.Equal("token-three", await tokens.GetTokenAsync(CancellationToken.None));
        // No expiry: kept until the server refuses it.
        time.Advance(TimeSpan.FromDays(30));
        Assert.Equal("token-three", await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Equal(3, Runs);
    }

    [Fact]
    public async Task The_sandbox_accepts_requests_authenticated_by_the_plugin_and_a_refused_token_makes_it_run_again()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { UseHttps = true });
        Prints("not-the-token");
        string kubeconfig = Kubeconfig(cluster.ApiServerUri.ToString().TrimEnd('/'), cluster.CertificateAuthority!.ExportCertificatePem());
        KubernetesClientConfiguration config = KubernetesConnection.Load(kubeconfig);
        using var client = KubernetesApiClient.FromConfiguration(config);

        KubernetesApiException refused = await Assert.ThrowsAsync<KubernetesApiException>(() => client.ListServicesAsync("default", default, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(2, Runs); // the 401 invalidated the first token and the retry ran the plugin again

        Prints(cluster.BearerToken!);
        KubernetesList<Service> services = await client.ListServicesAsync("default", default, CancellationToken.None);
        Assert.NotNull(services.Metadata.ResourceVersion);
        Assert.Equal(3, Runs);
        Assert.DoesNotContain(cluster.BearerToken!, KubernetesConnection.Describe(config));
        Assert.DoesNotContain(cluster.BearerToken!, client.Description);

        // The same plugin through a KubernetesClient client's own requests (its TokenProvider hook).
        using k8s.Kubernetes kubernetes = KubernetesConnection.CreateClient(config);
        k8s.Models.V1ServiceList viaKubernetesClient = await k8s.CoreV1OperationsExtensions.ListNamespacedServiceAsync(kubernetes.CoreV1, "default");
        Assert.NotNull(viaKubernetesClient.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task A_failing_plugin_is_reported_with_its_exit_code_and_stderr_and_a_missing_one_with_its_install_hint()
    {
        Prints("unused");
        ExecCredentialProvider failing = Assert.IsType<ExecCredentialProvider>(KubernetesConnection.Load(Kubeconfig("https://h", exitCode: "3")).TokenProvider);
        KubernetesConfigException failed = await Assert.ThrowsAsync<KubernetesConfigException>(async () => await failing.GetTokenAsync(CancellationToken.None));
        Assert.Contains("exited with code 3", failed.Message);
        Assert.Contains("plugin says: token service down", failed.Message);
        Assert.Equal("users[name=u].user.exec", failed.Key);

        ExecCredentialProvider missing = Assert.IsType<ExecCredentialProvider>(KubernetesConnection.Load(Kubeconfig("https://h", command: "clientlb-no-such-plugin")).TokenProvider);
        KubernetesConfigException notFound = await Assert.ThrowsAsync<KubernetesConfigException>(async () => await missing.GetTokenAsync(CancellationToken.None));
        Assert.Contains("cannot run 'clientlb-no-such-plugin'", notFound.Message);
        Assert.Contains("install it with 'apt-get install plugin'", notFound.Message);
    }

    [Fact]
    public async Task Output_that_is_not_an_exec_credential_is_refused_without_echoing_it()
    {
        ExecCredentialProvider tokens = Assert.IsType<ExecCredentialProvider>(KubernetesConnection.Load(Kubeconfig("https://h")).TokenProvider);

        File.WriteAllText(Path.Combine(_dir, "output"), "secret-token-without-json");
        KubernetesConfigException notJson = await Assert.ThrowsAsync<KubernetesConfigException>(async () => await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Contains("not an ExecCredential JSON object", notJson.Message);
        Assert.DoesNotContain("secret-token-without-json", notJson.Message);

        Prints("t", apiVersion: "client.authentication.k8s.io/v1beta1");
        KubernetesConfigException version = await Assert.ThrowsAsync<KubernetesConfigException>(async () => await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Contains("expected an ExecCredential of client.authentication.k8s.io/v1", version.Message);

        File.WriteAllText(Path.Combine(_dir, "output"), """{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"clientCertificateData":"x","clientKeyData":"y"}}""");
        KubernetesConfigException certificate = await Assert.ThrowsAsync<KubernetesConfigException>(async () => await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Contains("returned a client certificate", certificate.Message);
    }

    [Theory]
    [InlineData("""{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":12345}}""", "status.token as a JSON number")]
    [InlineData("""{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":{"secret":"s3cr3t-tok"}}}""", "status.token as a JSON object")]
    [InlineData("""{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":"s3cr3t-tok"}""", "status as a JSON string")]
    [InlineData("""{"kind":["ExecCredential"],"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"s3cr3t-tok"}}""", "kind as a JSON array")]
    [InlineData("""{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"s3cr3t-tok","expirationTimestamp":17}}""", "status.expirationTimestamp as a JSON number")]
    public async Task Output_with_wrong_json_types_is_refused_naming_the_field_not_with_a_raw_json_exception(string output, string reason)
    {
        // Defect 12: wrong JSON types surfaced as a raw JSON exception.
        ExecCredentialProvider tokens = Assert.IsType<ExecCredentialProvider>(KubernetesConnection.Load(Kubeconfig("https://h")).TokenProvider);
        File.WriteAllText(Path.Combine(_dir, "output"), output);
        KubernetesConfigException error = await Assert.ThrowsAsync<KubernetesConfigException>(async () => await tokens.GetTokenAsync(CancellationToken.None));
        Assert.Contains(reason, error.Message);
        Assert.Equal("users[name=u].user.exec", error.Key);
        Assert.DoesNotContain("s3cr3t-tok", error.ToString());
    }

    [Theory]
    [InlineData("      interactiveMode: Always\n", "ClientLb runs plugins without a terminal", "users[name=u].user.exec.interactiveMode")]
    [InlineData("      interactiveMode: Sometimes\n", "is not one of Never, IfAvailable, Always", "users[name=u].user.exec.interactiveMode")]
    [InlineData("", "is required with apiVersion client.authentication.k8s.io/v1", "users[name=u].user.exec.interactiveMode")]
    [InlineData("      interactiveMode: Never\n    token: abc\n", "is set together with a token", "users[name=u].user.exec")]
    public void Invalid_plugin_settings_are_refused_when_loading_naming_the_key(string extra, string reason, string key)
    {
        string path = Kubeconfig("https://h", extra: extra);
        KubernetesConfigException error = Assert.Throws<KubernetesConfigException>(() => KubernetesConnection.Load(path));
        Assert.Contains(reason, error.Message);
        Assert.Equal(key, error.Key);
    }
}
