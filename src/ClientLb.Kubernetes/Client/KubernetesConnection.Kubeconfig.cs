using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ClientLb.Kubernetes.Config;
using k8s;
using k8s.KubeConfigModels;
using YamlDotNet.Serialization;

namespace ClientLb.Kubernetes.Client;

// Reading kubeconfig files: the YAML, ClientLb's additions, and the checks that name file and key.
public static partial class KubernetesConnection
{
    private static (K8SConfiguration Model, KubeconfigAdditions Additions) Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new KubernetesConfigException(path, null, "the file does not exist");
        }
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubernetesConfigException(path, null, "cannot be read: " + ex.Message, ex);
        }
        K8SConfiguration model = Parse<K8SConfiguration>(text, path);
        // KubernetesClient resolves relative certificate paths against the file it came from.
        model.FileName = Path.GetFullPath(path);
        return (model, Parse<KubeconfigAdditions>(text, path));
    }

    /// <summary>
    /// YamlDotNet (KubernetesClient's YAML library) reading KubernetesClient's kubeconfig model. Not <c>KubernetesYaml</c>:
    /// its first use maps every <c>k8s.Models</c> type and keeps 5.5 MB alive for the life of the process (measured,
    /// docs/performance.md); this deserializer keeps 0.2 MB.
    /// </summary>
    private static readonly IDeserializer Yaml = CreateYaml();

    // KubernetesClient's kubeconfig loading (KubernetesYaml) deserializes the same model by reflection, unannotated; the
    // kubeconfig path is as AOT-capable as KubernetesClient's own (not at all: its AOT variant is KubernetesClient.Aot).
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The same reflection KubernetesClient's own kubeconfig loader uses.")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The same reflection KubernetesClient's own kubeconfig loader uses.")]
    private static IDeserializer CreateYaml() => new DeserializerBuilder().IgnoreUnmatchedProperties().Build();

    private static T Parse<T>(string text, string file) where T : class, new()
    {
        try
        {
            return Yaml.Deserialize<T>(text) ?? new T();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw Wrap(file, "is not valid YAML", ex);
        }
    }

    private static IEnumerable<T> FirstWins<T>(IEnumerable<T>? first, IEnumerable<T>? second, Func<T, string?> name)
    {
        var items = new List<T>(first ?? []);
        var names = new HashSet<string?>(items.Select(name));
        items.AddRange((second ?? []).Where(item => names.Add(name(item))));
        return items;
    }

    /// <summary>KubernetesClient builds the configuration; ClientLb first takes out what it runs itself (exec, tokenFile).</summary>
    private static KubernetesClientConfiguration Build(K8SConfiguration model, KubeconfigAdditions additions, string file, string? context, TimeProvider time)
    {
        if (model.Kind is { Length: > 0 } kind && kind != "Config")
        {
            throw new KubernetesConfigException(file, "kind", $"is '{kind}': this is not a kubeconfig (kind: Config)");
        }
        string contextName = context ?? model.CurrentContext
            ?? throw new KubernetesConfigException(file, "current-context", "is not set (and no context was chosen)");
        Context active = model.Contexts?.FirstOrDefault(c => c?.Name == contextName)
            ?? throw new KubernetesConfigException(file, "current-context", $"the context '{contextName}' is not defined");
        string contextKey = $"contexts[name={contextName}].context";
        string? clusterName = active.ContextDetails?.Cluster;
        Cluster cluster = model.Clusters?.FirstOrDefault(c => c?.Name == clusterName && clusterName is not null)
            ?? throw new KubernetesConfigException(file, contextKey + ".cluster", $"the cluster '{clusterName}' is not defined");
        string clusterKey = $"clusters[name={clusterName}].cluster";
        if (cluster.ClusterEndpoint?.Server is not { Length: > 0 } serverText)
        {
            throw new KubernetesConfigException(file, clusterKey + ".server", "is missing");
        }
        if (!Uri.TryCreate(serverText, UriKind.Absolute, out Uri? server) || server.Scheme is not ("http" or "https"))
        {
            throw new KubernetesConfigException(file, clusterKey + ".server", $"'{RedactUserInfo(serverText)}' is not an absolute http or https URL");
        }

        Uri? proxy = null;
        if (additions.Clusters?.FirstOrDefault(c => c?.Name == clusterName)?.Cluster?.ProxyUrl is { Length: > 0 } proxyText
            && (!Uri.TryCreate(proxyText, UriKind.Absolute, out proxy) || proxy.Scheme is not ("http" or "https" or "socks5" or "socks4" or "socks4a")))
        {
            throw new KubernetesConfigException(file, clusterKey + ".proxy-url", $"'{RedactUserInfo(proxyText)}' is not an absolute http, https or socks5 URL");
        }

        ExecCredentialPlugin? plugin = null;
        string? tokenFile = null;
        string userKey = $"users[name={active.ContextDetails!.User}].user";
        if (active.ContextDetails.User is { Length: > 0 } userName)
        {
            User user = model.Users?.FirstOrDefault(u => u?.Name == userName)
                ?? throw new KubernetesConfigException(file, contextKey + ".user", $"the user '{userName}' is not defined");
            UserCredentials credentials = user.UserCredentials ?? new UserCredentials();
            KubeconfigAdditions.UserFields? extra = additions.Users?.FirstOrDefault(u => u?.Name == userName)?.User;
            if (credentials.ExternalExecution is ExternalExecution exec)
            {
                if (!string.IsNullOrEmpty(credentials.Token))
                {
                    throw new KubernetesConfigException(file, userKey + ".exec", "is set together with a token; use one of them");
                }
                plugin = ExecCredentialPlugin.From(exec, extra?.Exec?.InteractiveMode, file, userKey + ".exec");
                credentials.ExternalExecution = null; // ClientLb runs it (ExecCredentialProvider), not KubernetesClient
            }
            if (extra?.TokenFile is { Length: > 0 } path && string.IsNullOrEmpty(credentials.Token))
            {
                tokenFile = Relative(model, path);
                if (!File.Exists(tokenFile))
                {
                    throw new KubernetesConfigException(file, userKey + ".tokenFile", $"'{tokenFile}' does not exist");
                }
            }
            CheckPair(file, userKey, credentials.ClientCertificateData, credentials.ClientKeyData, "client-certificate-data", "client-key-data");
            CheckPair(file, userKey, credentials.ClientCertificate, credentials.ClientKey, "client-certificate", "client-key");
            if (credentials.AuthProvider is { } provider && credentials.Token is null && plugin is null && tokenFile is null)
            {
                throw new KubernetesConfigException(file, userKey + ".auth-provider", $"'{provider.Name}' is not supported; use an exec credential plugin (e.g. kubelogin, gke-gcloud-auth-plugin)");
            }
            if (!HasOtherCredentials(credentials))
            {
                // Nothing left for KubernetesClient to read for this user: ClientLb's provider is the whole credential, or
                // the user has none (an API server without authentication, as kubectl allows; KubernetesClient refuses it).
                active.ContextDetails.User = null;
            }
        }

        KubernetesClientConfiguration config;
        try
        {
            config = KubernetesClientConfiguration.BuildConfigFromConfigObject(model, contextName);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw Wrap(file, $"KubernetesClient cannot use the context '{contextName}'", ex);
        }
        if (server.Scheme == "https" && (cluster.ClusterEndpoint.CertificateAuthorityData is { Length: > 0 } || cluster.ClusterEndpoint.CertificateAuthority is { Length: > 0 })
            && config.SslCaCerts is not { Count: > 0 })
        {
            throw new KubernetesConfigException(file, clusterKey + (cluster.ClusterEndpoint.CertificateAuthorityData is { Length: > 0 } ? ".certificate-authority-data" : ".certificate-authority"),
                "holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)");
        }
        if (config.ClientCertificateData is not null || config.ClientCertificateFilePath is not null)
        {
            try
            {
                // KubernetesClient loads the certificate and key when it builds a client: a bad pair fails here, naming the user.
                using var probe = new k8s.Kubernetes(config);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw Wrap(file, $"the client certificate and key of {userKey} cannot be used (not valid PEM, or the key does not match the certificate)", ex, userKey + (config.ClientCertificateData is not null ? ".client-key-data" : ".client-key"));
            }
        }
        if (proxy is not null)
        {
            // proxy-url: KubernetesClient's model has no such field; its handler takes a proxy through this hook.
            Action<System.Net.Http.SocketsHttpHandler>? earlier = config.FirstMessageHandlerSetup;
            config.FirstMessageHandlerSetup = handler =>
            {
                earlier?.Invoke(handler);
                handler.Proxy = new System.Net.WebProxy(proxy);
                handler.UseProxy = true;
            };
        }
        if (plugin is not null)
        {
            config.TokenProvider = new ExecCredentialProvider(plugin, ClusterInfo(config, proxy), time);
        }
        else if (tokenFile is not null)
        {
            config.TokenProvider = new FileTokenProvider(tokenFile, file, time);
        }
        return config;
    }

    private static void CheckPair(string file, string userKey, string? certificate, string? key, string certificateName, string keyName)
    {
        if (string.IsNullOrEmpty(certificate) && !string.IsNullOrEmpty(key))
        {
            throw new KubernetesConfigException(file, $"{userKey}.{certificateName}", $"is missing while a client key is set (set {certificateName})");
        }
        if (!string.IsNullOrEmpty(certificate) && string.IsNullOrEmpty(key))
        {
            throw new KubernetesConfigException(file, $"{userKey}.{keyName}", $"is missing while a client certificate is set (set {keyName})");
        }
    }

    private static bool HasOtherCredentials(UserCredentials c) =>
        !string.IsNullOrEmpty(c.Token) || !string.IsNullOrEmpty(c.UserName) || !string.IsNullOrEmpty(c.ClientCertificateData)
        || !string.IsNullOrEmpty(c.ClientCertificate) || c.AuthProvider is not null;

    private static string Relative(K8SConfiguration model, string path) =>
        Path.IsPathRooted(path) || model.FileName is null ? path : Path.Combine(Path.GetDirectoryName(model.FileName)!, path);

    /// <summary>The cluster as client-go hands it to an exec plugin that asks for it (<c>provideClusterInfo</c>).</summary>
    private static string ClusterInfo(KubernetesClientConfiguration config, Uri? proxy)
    {
        var cluster = new JsonObject { ["server"] = config.Host.TrimEnd('/') };
        if (proxy is not null)
        {
            cluster["proxy-url"] = proxy.ToString();
        }
        if (config.TlsServerName is { Length: > 0 } name)
        {
            cluster["tls-server-name"] = name;
        }
        if (config.SkipTlsVerify)
        {
            cluster["insecure-skip-tls-verify"] = true;
        }
        if (config.SslCaCerts is { Count: > 0 } cas)
        {
            string pem = string.Concat(cas.Select(c => c.ExportCertificatePem() + "\n"));
            cluster["certificate-authority-data"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pem));
        }
        return cluster.ToJsonString();
    }
}
