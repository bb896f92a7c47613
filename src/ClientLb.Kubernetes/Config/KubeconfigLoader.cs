using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// Reads kubeconfig files as kubectl does: <c>KUBECONFIG</c> (several files separated by ':', the first to set a
/// value wins) or <c>~/.kube/config</c>; the current context (or a chosen one); its cluster, user and namespace.
/// Relative paths are relative to the file that names them. Written here because KubernetesClient is not available.
/// </summary>
public static class KubeconfigLoader
{
    /// <summary>The kubeconfig paths kubectl would use: <c>KUBECONFIG</c>, else <c>~/.kube/config</c> when it exists.</summary>
    public static IReadOnlyList<string> DefaultPaths(Func<string, string?>? environment = null, string? homeDirectory = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? variable = environment("KUBECONFIG");
        if (!string.IsNullOrWhiteSpace(variable))
        {
            return [.. variable.Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }
        string home = homeDirectory ?? environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string path = System.IO.Path.Combine(home, ".kube", "config");
        return File.Exists(path) ? [path] : [];
    }

    /// <summary>Loads one kubeconfig file, using <paramref name="context"/> or its current-context.</summary>
    public static KubernetesClientConfiguration Load(string path, string? context = null) => Load([path], context);

    /// <summary>Loads and merges kubeconfig files (the first file to define a name or the current-context wins).</summary>
    /// <exception cref="KubernetesConfigException">A file is missing or invalid; the message names the file and key.</exception>
    public static KubernetesClientConfiguration Load(IReadOnlyList<string> paths, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0)
        {
            throw new KubernetesConfigException(null, null, "no kubeconfig file given");
        }
        var clusters = new Dictionary<string, YamlReader>(StringComparer.Ordinal);
        var users = new Dictionary<string, YamlReader>(StringComparer.Ordinal);
        var contexts = new Dictionary<string, YamlReader>(StringComparer.Ordinal);
        string? current = null;
        string? currentFile = null;
        foreach (string path in paths)
        {
            YamlReader root = Parse(path);
            current ??= root.String("current-context");
            currentFile ??= current is not null ? path : null;
            AddAll(root, "clusters", clusters);
            AddAll(root, "users", users);
            AddAll(root, "contexts", contexts);
        }
        string first = paths[0];
        string contextName = context ?? current
            ?? throw new KubernetesConfigException(first, "current-context", "is not set; set it (kubectl config use-context NAME) or choose a context in the options");
        if (!contexts.TryGetValue(contextName, out YamlReader ctxItem))
        {
            string key = context is not null ? "contexts" : "current-context";
            throw new KubernetesConfigException(context is not null ? first : currentFile, key,
                $"the context '{contextName}' is not defined (defined: {List(contexts.Keys)})");
        }
        YamlReader ctx = ctxItem.Map("context");
        string clusterName = ctx.String("cluster") ?? throw new KubernetesConfigException(ctx.File, ctx.Key("cluster"), "is missing");
        if (!clusters.TryGetValue(clusterName, out YamlReader clusterItem))
        {
            throw new KubernetesConfigException(ctx.File, ctx.Key("cluster"), $"the cluster '{clusterName}' is not defined (defined: {List(clusters.Keys)})");
        }
        string? userName = ctx.String("user");
        YamlReader? user = null;
        if (userName is not null)
        {
            if (!users.TryGetValue(userName, out YamlReader userItem))
            {
                throw new KubernetesConfigException(ctx.File, ctx.Key("user"), $"the user '{userName}' is not defined (defined: {List(users.Keys)})");
            }
            user = userItem.Map("user");
        }
        return Build(clusterItem.Map("cluster"), user, ctx.String("namespace"), contextName);
    }

    private static string List(IEnumerable<string> names)
    {
        string text = string.Join(", ", names.Order(StringComparer.Ordinal));
        return text.Length == 0 ? "none" : text;
    }

    private static void AddAll(YamlReader root, string list, Dictionary<string, YamlReader> into)
    {
        foreach ((string name, YamlReader item) in root.NamedList(list))
        {
            into.TryAdd(name, item);
        }
    }

    private static YamlReader Parse(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubernetesConfigException(path, null, ex is FileNotFoundException or DirectoryNotFoundException ? "the file does not exist" : "cannot be read: " + ex.Message, ex);
        }
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw new KubernetesConfigException(path, null, $"not valid YAML (line {ex.Start.Line}, column {ex.Start.Column}): {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // YamlDotNet throws these on some malformed documents (found by fuzzing, tests/fuzz/corpus/kubeconfig/crash-yaml-*):
            // still a file that is not valid YAML, not a bug of the caller.
            throw new KubernetesConfigException(path, null, $"not valid YAML: {ex.Message}", ex);
        }
        if (stream.Documents.Count == 0)
        {
            throw new KubernetesConfigException(path, null, "the file is empty");
        }
        if (stream.Documents[0].RootNode is not YamlMappingNode map)
        {
            throw new KubernetesConfigException(path, null, "the document is not a mapping (expected apiVersion, kind: Config, clusters, users, contexts)");
        }
        var root = new YamlReader(path, "", map);
        string? kind = root.String("kind");
        if (kind is not null && kind != "Config")
        {
            throw new KubernetesConfigException(path, "kind", $"'{kind}' is not a kubeconfig (expected Config)");
        }
        return root;
    }

    private static KubernetesClientConfiguration Build(YamlReader cluster, YamlReader? user, string? ns, string contextName)
    {
        string file = cluster.File;
        string origin = $"kubeconfig {file} context {contextName}";
        string server = cluster.String("server") ?? throw new KubernetesConfigException(file, cluster.Key("server"), "is missing");
        if (!Uri.TryCreate(server, UriKind.Absolute, out Uri? serverUri) || serverUri.Scheme is not ("http" or "https"))
        {
            throw new KubernetesConfigException(file, cluster.Key("server"), $"'{server}' is not an absolute http or https URL");
        }
        X509Certificate2Collection? cas = ReadCertificates(cluster, "certificate-authority-data", "certificate-authority");
        X509Certificate2? clientCert = null;
        string? token = null;
        string? tokenFile = null;
        ExecCredentialPlugin? exec = null;
        if (user is YamlReader u)
        {
            foreach (string unsupported in new[] { "auth-provider", "username", "password" })
            {
                if (u.Has(unsupported))
                {
                    throw new KubernetesConfigException(u.File, u.Key(unsupported),
                        "is not supported by ClientLb.Kubernetes; use token, tokenFile, exec or a client certificate (client-certificate(-data) and client-key(-data))");
                }
            }
            exec = ReadExec(u.Map("exec"));
            if (exec is not null && (u.Has("token") || u.Has("tokenFile")))
            {
                throw new KubernetesConfigException(u.File, u.Key("exec"), "is set together with a token; keep one way to get the bearer token");
            }
            token = u.String("token");
            string? tokenPath = u.String("tokenFile");
            if (tokenPath is not null)
            {
                tokenFile = Resolve(u.File, tokenPath);
                if (!File.Exists(tokenFile))
                {
                    throw new KubernetesConfigException(u.File, u.Key("tokenFile"), $"the file '{tokenFile}' does not exist");
                }
            }
            clientCert = ReadClientCertificate(u);
        }
        bool skip = cluster.Bool("insecure-skip-tls-verify") ?? false;
        if (skip && cas is not null)
        {
            throw new KubernetesConfigException(file, cluster.Key("insecure-skip-tls-verify"),
                "is true while a certificate authority is also set; kubectl rejects this combination (remove one)");
        }
        return new KubernetesClientConfiguration(serverUri, origin)
        {
            Namespace = string.IsNullOrEmpty(ns) ? null : ns,
            CertificateAuthorities = cas,
            ClientCertificate = clientCert,
            SkipTlsVerify = skip,
            TlsServerName = cluster.String("tls-server-name"),
            BearerToken = token,
            BearerTokenFile = tokenFile,
            ExecCredential = exec,
        };
    }

    /// <summary>A <c>user.exec</c> credential plugin, validated the way client-go validates it.</summary>
    private static ExecCredentialPlugin? ReadExec(YamlReader exec)
    {
        if (!exec.Exists)
        {
            return null;
        }
        string command = exec.String("command") ?? throw new KubernetesConfigException(exec.File, exec.Key("command"), "is missing");
        string apiVersion = exec.String("apiVersion") ?? throw new KubernetesConfigException(exec.File, exec.Key("apiVersion"),
            $"is missing (use one of {string.Join(", ", ExecCredentialPlugin.SupportedApiVersions)})");
        if (!ExecCredentialPlugin.SupportedApiVersions.Contains(apiVersion))
        {
            throw new KubernetesConfigException(exec.File, exec.Key("apiVersion"),
                $"'{apiVersion}' is not supported (use one of {string.Join(", ", ExecCredentialPlugin.SupportedApiVersions)})");
        }
        // client-go: v1 must say it; v1beta1 defaults to IfAvailable.
        string mode = exec.String("interactiveMode") ?? (apiVersion.EndsWith("/v1", StringComparison.Ordinal)
            ? throw new KubernetesConfigException(exec.File, exec.Key("interactiveMode"), "is required with apiVersion " + apiVersion + " (Never or IfAvailable)")
            : "IfAvailable");
        if (mode is not ("Never" or "IfAvailable" or "Always"))
        {
            throw new KubernetesConfigException(exec.File, exec.Key("interactiveMode"), $"'{mode}' is not one of Never, IfAvailable, Always");
        }
        if (mode == "Always")
        {
            throw new KubernetesConfigException(exec.File, exec.Key("interactiveMode"),
                "is Always, but ClientLb runs plugins without a terminal; use a plugin mode that works non-interactively (Never or IfAvailable)");
        }
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, YamlReader variable) in exec.NamedList("env"))
        {
            environment[name] = variable.String("value") ?? "";
        }
        // As client-go: a command with a directory part is relative to the kubeconfig; a bare name is looked up on PATH.
        if (command.Contains('/', StringComparison.Ordinal) && !System.IO.Path.IsPathRooted(command))
        {
            command = Resolve(exec.File, command);
        }
        return new ExecCredentialPlugin(command, apiVersion, exec.StringList("args"), environment, mode, exec.Bool("provideClusterInfo") ?? false,
            exec.String("installHint"), (exec.File, exec.Path));
    }

    private static string Resolve(string file, string path) =>
        System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file)) ?? ".", path));

    /// <summary>Reads PEM text from <c>{key}-data</c> (base64 of PEM) or the file named by <c>{key}</c>; data wins as in kubectl.</summary>
    private static (string Pem, string Key)? ReadPem(YamlReader map, string dataKey, string fileKey)
    {
        string? data = map.String(dataKey);
        if (data is not null)
        {
            try
            {
                return (Encoding.UTF8.GetString(Convert.FromBase64String(data)), map.Key(dataKey));
            }
            catch (FormatException)
            {
                throw new KubernetesConfigException(map.File, map.Key(dataKey), "is not valid base64");
            }
        }
        string? path = map.String(fileKey);
        if (path is null)
        {
            return null;
        }
        string full = Resolve(map.File, path);
        try
        {
            return (File.ReadAllText(full), map.Key(fileKey));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubernetesConfigException(map.File, map.Key(fileKey), $"the file '{full}' cannot be read: {ex.Message}", ex);
        }
    }

    internal static X509Certificate2Collection? ReadCertificates(YamlReader map, string dataKey, string fileKey)
    {
        if (ReadPem(map, dataKey, fileKey) is not (string pem, string key))
        {
            return null;
        }
        return ParseCaBundle(pem, map.File, key);
    }

    internal static X509Certificate2Collection ParseCaBundle(string pem, string? file, string? key)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            throw new KubernetesConfigException(file, key, "does not hold valid PEM certificates: " + ex.Message, ex);
        }
        if (collection.Count == 0)
        {
            throw new KubernetesConfigException(file, key, "holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)");
        }
        return collection;
    }

    private static X509Certificate2? ReadClientCertificate(YamlReader user)
    {
        (string Pem, string Key)? cert = ReadPem(user, "client-certificate-data", "client-certificate");
        (string Pem, string Key)? key = ReadPem(user, "client-key-data", "client-key");
        if (cert is null && key is null)
        {
            return null;
        }
        if (cert is null)
        {
            throw new KubernetesConfigException(user.File, user.Key("client-certificate-data"), "is missing while a client key is set (set client-certificate or client-certificate-data)");
        }
        if (key is null)
        {
            throw new KubernetesConfigException(user.File, user.Key("client-key-data"), "is missing while a client certificate is set (set client-key or client-key-data)");
        }
        try
        {
            using X509Certificate2 ephemeral = X509Certificate2.CreateFromPem(cert.Value.Pem, key.Value.Pem);
            // Re-import so the private key is usable by SslStream on every platform.
            return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // Which one is wrong: the certificate alone must parse; otherwise the key is bad or does not match.
            bool certOk;
            try
            {
                using X509Certificate2 alone = X509Certificate2.CreateFromPem(cert.Value.Pem);
                certOk = true;
            }
            catch (CryptographicException)
            {
                certOk = false;
            }
            throw certOk
                ? new KubernetesConfigException(user.File, key.Value.Key, "is not a valid PEM private key for the client certificate (or does not match it)", ex)
                : new KubernetesConfigException(user.File, cert.Value.Key, "is not a valid PEM certificate", ex);
        }
    }
}
