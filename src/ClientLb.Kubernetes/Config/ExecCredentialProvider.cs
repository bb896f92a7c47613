using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// Runs a kubeconfig exec credential plugin and caches its token until the <c>expirationTimestamp</c> it gives (for
/// good when it gives none), or until a 401 says the server no longer takes it. One run at a time; requests wait for
/// it. Never shows the token: errors carry the command, its exit code and the start of its stderr.
/// This replaces KubernetesClient's <c>ExecTokenProvider</c>, which joins the arguments with spaces into one command
/// line, sends no <c>provideClusterInfo</c> data, cannot be re-run after a 401 and reports wrong JSON types as a raw
/// JSON exception.
/// </summary>
internal sealed class ExecCredentialProvider(ExecCredentialPlugin plugin, string? clusterInfoJson, TimeProvider time) : RefreshableTokenProvider
{
    /// <summary>The longest a plugin may run (client-go has no limit; a hung plugin must not hang discovery).</summary>
    public static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(1);

    /// <summary>The plugin's command, for descriptions.</summary>
    public string Command => plugin.Command;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private Credential? _credential;

    private sealed record Credential(string Token, DateTimeOffset? ExpiresAt);

    public override async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        if (Fresh(Volatile.Read(ref _credential)) is string token)
        {
            return token;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Fresh(_credential) is string raced)
            {
                return raced;
            }
            Credential credential = await RunAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _credential, credential);
            return credential.Token;
        }
        finally
        {
            _gate.Release();
        }
    }

    public override void Invalidate() => Volatile.Write(ref _credential, null);

    private string? Fresh(Credential? credential) =>
        credential is not null && (credential.ExpiresAt is not DateTimeOffset expires || time.GetUtcNow() < expires) ? credential.Token : null;

    private async Task<Credential> RunAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(plugin.Command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in plugin.Arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach ((string name, string value) in plugin.Environment)
        {
            start.Environment[name] = value;
        }
        start.Environment["KUBERNETES_EXEC_INFO"] = ExecInfo();

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("the process did not start");
        }
        catch (Win32Exception ex)
        {
            throw Fail($"cannot run '{plugin.Command}': {ex.Message}" + (plugin.InstallHint is string hint ? ". " + hint.Trim() : ""), ex);
        }
        using (process)
        {
            // No terminal: the plugin must not wait for input.
            process.StandardInput.Close();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(RunTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                throw Fail($"'{plugin}' did not finish within {RunTimeout.TotalSeconds:0} s");
            }
            string output = await stdout.ConfigureAwait(false);
            string errors = await stderr.ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw Fail($"'{plugin}' exited with code {process.ExitCode}" + (errors.Trim() is { Length: > 0 } text ? ": " + Shorten(text) : ""));
            }
            return Parse(output);
        }
    }

    /// <summary>What the plugin learns about the request (client-go's KUBERNETES_EXEC_INFO): never interactive here.</summary>
    private string ExecInfo()
    {
        var spec = new JsonObject { ["interactive"] = false };
        if (plugin.ProvideClusterInfo && clusterInfoJson is not null)
        {
            spec["cluster"] = JsonNode.Parse(clusterInfoJson);
        }
        return new JsonObject { ["kind"] = "ExecCredential", ["apiVersion"] = plugin.ApiVersion, ["spec"] = spec }.ToJsonString();
    }

    private Credential Parse(string output)
    {
        JsonObject credential;
        try
        {
            credential = JsonNode.Parse(output) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException ex)
        {
            // Not the output itself: it may hold a token.
            throw Fail($"'{plugin}' printed something that is not an ExecCredential JSON object ({ex.Message})", ex);
        }
        string? kind = Text(credential, "kind"), apiVersion = Text(credential, "apiVersion");
        if (kind != "ExecCredential" || apiVersion != plugin.ApiVersion)
        {
            throw Fail($"'{plugin}' printed kind '{kind}' apiVersion '{apiVersion}'; expected an ExecCredential of {plugin.ApiVersion}");
        }
        JsonNode? statusNode = credential["status"];
        if (statusNode is not null and not JsonObject)
        {
            throw Fail($"'{plugin}' returned status as a JSON {statusNode.GetValueKind().ToString().ToLowerInvariant()}, not an object");
        }
        var status = (JsonObject?)statusNode;
        string? token = status is null ? null : Text(status, "token", "status.");
        if (string.IsNullOrEmpty(token))
        {
            throw Fail(status?["clientCertificateData"] is not null
                ? $"'{plugin}' returned a client certificate; ClientLb.Kubernetes takes tokens from exec plugins, not certificates"
                : $"'{plugin}' returned no status.token");
        }
        DateTimeOffset? expires = null;
        if (Text(status!, "expirationTimestamp", "status.") is string stamp)
        {
            if (!DateTimeOffset.TryParse(stamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
            {
                throw Fail($"'{plugin}' returned status.expirationTimestamp '{stamp}', which is not an RFC 3339 time");
            }
            expires = parsed;
        }
        return new Credential(token, expires);
    }

    /// <summary>A string field of the plugin's output; another JSON type is an error naming the field (never its value: it may be a token).</summary>
    private string? Text(JsonObject owner, string field, string prefix = "")
    {
        JsonNode? node = owner[field];
        if (node is null)
        {
            return null;
        }
        JsonValueKind kind = node.GetValueKind();
        return kind == JsonValueKind.String
            ? node.GetValue<string>()
            : throw Fail($"'{plugin}' returned {prefix}{field} as a JSON {kind.ToString().ToLowerInvariant()}, not a string");
    }

    private static string Shorten(string text) => text.Length <= 500 ? text : text[..500] + "...";

    private KubernetesConfigException Fail(string reason, Exception? inner = null) => new(plugin.Key.File, plugin.Key.Key, reason, inner);
}
