using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ClientLb.Kubernetes.Config;
using k8s;
using k8s.KubeConfigModels;
using YamlDotNet.Serialization;

namespace ClientLb.Kubernetes.Client;

/// <summary>
/// Builds KubernetesClient's <see cref="KubernetesClientConfiguration"/> and <see cref="k8s.Kubernetes"/> client the way
/// <see cref="KubernetesConfigMode"/> says. KubernetesClient reads the kubeconfig (contexts, clusters, users, CAs, client
/// certificates, <c>tls-server-name</c>) and carries the requests; ClientLb adds, through KubernetesClient's hooks
/// (<c>TokenProvider</c>, <c>FirstMessageHandlerSetup</c>, delegating handlers): <c>tokenFile</c> users, exec plugins
/// run with their arguments as a list, <c>provideClusterInfo</c> and again after a 401, a token re-read after a 401, a
/// server certificate check that names the host and uses the server's intermediates, and errors that name the file and
/// never a secret.
/// </summary>
public static partial class KubernetesConnection
{
    /// <summary>The ExecCredential API versions ClientLb's exec runner speaks.</summary>
    public static IReadOnlyList<string> SupportedExecApiVersions => ExecCredentialPlugin.SupportedApiVersions;

    /// <summary>
    /// Finds and builds the configuration, or returns null in <see cref="KubernetesConfigMode.Auto"/> when there is none (not
    /// in a pod, no kubeconfig); <paramref name="reason"/> then says what was looked for.
    /// </summary>
    /// <exception cref="KubernetesConfigException">A configuration was found (or demanded) but is invalid; the message names the file and key.</exception>
    public static KubernetesClientConfiguration? TryResolve(KubernetesSourceOptions options, out string reason, Func<string, string?>? environment = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        time ??= TimeProvider.System;
        InClusterConfig inCluster = options.InCluster ?? new InClusterConfig { Environment = environment ?? Environment.GetEnvironmentVariable };
        environment ??= inCluster.Environment;
        IReadOnlyList<string> paths = options.KubeconfigPath is { Length: > 0 } explicitPath
            ? [.. explicitPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
            : DefaultPaths(environment);
        reason = "";
        switch (options.Mode)
        {
            case KubernetesConfigMode.InCluster:
                return inCluster.Load(time);
            case KubernetesConfigMode.Kubeconfig:
                return paths.Count == 0
                    ? throw new KubernetesConfigException(null, "KUBECONFIG", "no kubeconfig: set KubernetesSourceOptions.KubeconfigPath or KUBECONFIG, or create ~/.kube/config")
                    : Load(paths, options.Context, time);
            default:
                if (options.KubeconfigPath is { Length: > 0 })
                {
                    return Load(paths, options.Context, time);
                }
                if (inCluster.IsAvailable)
                {
                    return inCluster.Load(time);
                }
                if (paths.Count > 0)
                {
                    return Load(paths, options.Context, time);
                }
                reason = "not in a pod (KUBERNETES_SERVICE_HOST unset), no KUBECONFIG and no ~/.kube/config";
                return null;
        }
    }

    /// <summary>The kubeconfig files kubectl would read: <c>KUBECONFIG</c> (several joined by the path separator), else <c>~/.kube/config</c> if it exists.</summary>
    public static IReadOnlyList<string> DefaultPaths(Func<string, string?>? environment = null, string? homeDirectory = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment("KUBECONFIG") is { } variable && !string.IsNullOrWhiteSpace(variable))
        {
            return [.. variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }
        string home = homeDirectory ?? environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string path = Path.Combine(home, ".kube", "config");
        return File.Exists(path) ? [path] : [];
    }

    /// <summary>Loads one kubeconfig file, using <paramref name="context"/> or its current-context.</summary>
    /// <exception cref="KubernetesConfigException">The file is missing or invalid; the message names the file and key.</exception>
    public static KubernetesClientConfiguration Load(string path, string? context = null, TimeProvider? time = null) => Load([path], context, time);

    /// <summary>Loads and merges kubeconfig files (the first file to define a name or the current-context wins, as kubectl).</summary>
    /// <exception cref="KubernetesConfigException">A file is missing or invalid; the message names the file and key.</exception>
    public static KubernetesClientConfiguration Load(IReadOnlyList<string> paths, string? context = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0)
        {
            throw new KubernetesConfigException(null, null, "no kubeconfig file given");
        }
        (K8SConfiguration model, KubeconfigAdditions additions) = Read(paths[0]);
        for (int i = 1; i < paths.Count; i++)
        {
            (K8SConfiguration next, KubeconfigAdditions nextAdditions) = Read(paths[i]);
            model.CurrentContext ??= next.CurrentContext;
            model.Clusters = FirstWins(model.Clusters, next.Clusters, c => c.Name);
            model.Users = FirstWins(model.Users, next.Users, u => u.Name);
            model.Contexts = FirstWins(model.Contexts, next.Contexts, c => c.Name);
            additions.Users = [.. FirstWins(additions.Users, nextAdditions.Users, u => u.Name)];
            additions.Clusters = [.. FirstWins(additions.Clusters, nextAdditions.Clusters, c => c.Name)];
        }
        return Build(model, additions, paths[0], context, time ?? TimeProvider.System);
    }

    /// <summary>Builds the configuration from kubeconfig text (relative paths are relative to the working directory).</summary>
    /// <exception cref="KubernetesConfigException">The text is not a usable kubeconfig; the message names <paramref name="origin"/> and the key.</exception>
    public static KubernetesClientConfiguration Load(Stream kubeconfig, string origin, string? context = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(kubeconfig);
        string text = new StreamReader(kubeconfig).ReadToEnd();
        return Build(Parse<K8SConfiguration>(text, origin), Parse<KubeconfigAdditions>(text, origin), origin, context, time ?? TimeProvider.System);
    }

    /// <summary>
    /// The KubernetesClient client for <paramref name="config"/>, with ClientLb's additions in its pipeline: a 401 makes a
    /// ClientLb token provider fetch its token again (one retry), every request carries the <c>tls-server-name</c>, and the
    /// server certificate is checked by name and chain with the reason in the error.
    /// </summary>
    public static k8s.Kubernetes CreateClient(KubernetesClientConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var handlers = new List<DelegatingHandler>(2);
        if (config.TokenProvider is RefreshableTokenProvider tokens)
        {
            handlers.Add(new CredentialRefreshHandler(tokens));
        }
        if (config.TlsServerName is { Length: > 0 } serverName)
        {
            handlers.Add(new TlsServerNameHandler(serverName));
        }
        // KubernetesClient installs its own certificate callback when it sees CAs; they are handed to ClientLb's check for
        // the construction and put back after, so the caller's configuration is unchanged.
        X509Certificate2Collection? cas = config.SslCaCerts;
        Action<SocketsHttpHandler>? setup = config.FirstMessageHandlerSetup;
        try
        {
            TlsVerification.Install(config);
            return new k8s.Kubernetes(config, [.. handlers]);
        }
        catch (Exception ex) when (ex is not KubernetesConfigException and not OutOfMemoryException)
        {
            throw Wrap(null, "KubernetesClient cannot build a client from it", ex);
        }
        finally
        {
            config.SslCaCerts = cas;
            config.FirstMessageHandlerSetup = setup;
        }
    }

    /// <summary><paramref name="server"/> without its user info (<c>https://user:pass@host</c> is <c>https://host/</c>), for messages.</summary>
    public static string WithoutUserInfo(Uri server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.IsAbsoluteUri
            ? server.GetComponents(UriComponents.SchemeAndServer | UriComponents.PathAndQuery, UriFormat.UriEscaped)
            : "(a relative URL)";
    }

    /// <summary>Describes a configuration for messages: its server and how it authenticates, never a secret.</summary>
    public static string Describe(KubernetesClientConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string server = Uri.TryCreate(config.Host, UriKind.Absolute, out Uri? uri) ? WithoutUserInfo(uri) : "(no server)";
        string auth = config.TokenProvider switch
        {
            ExecCredentialProvider exec => "exec plugin " + exec.Command,
            FileTokenProvider => "token file",
            not null => "token provider",
            null when config.AccessToken is { Length: > 0 } => "token",
            null when config.Username is { Length: > 0 } => "basic",
            null when config.ClientCertificateData is not null || config.ClientCertificateFilePath is not null => "client certificate",
            _ => "none",
        };
        return $"{server} ({Origin(config)}; auth: {auth}{(config.SkipTlsVerify ? "; TLS NOT verified" : "")})";
    }

    /// <summary>Where a configuration came from, for messages.</summary>
    internal static string Origin(KubernetesClientConfiguration config) =>
        config.CurrentContext is string context ? $"kubeconfig context '{context}'" : "in-cluster service account";

    /// <summary>
    /// A KubernetesClient error as a <see cref="KubernetesConfigException"/> naming the file. Its message may quote the
    /// server URL: user info in it is cut out, and then the original exception (which still has it) is not kept.
    /// </summary>
    private static KubernetesConfigException Wrap(string? file, string what, Exception ex, string? key = null)
    {
        string message = RedactUserInfo(ex.Message);
        return new KubernetesConfigException(file, key, $"{what}: {message}", message == ex.Message ? ex : null);
    }

    private static string RedactUserInfo(string text) => UserInfo().Replace(text, "//");

    [GeneratedRegex(@"//[^/@\s]*@")]
    private static partial Regex UserInfo();
}
