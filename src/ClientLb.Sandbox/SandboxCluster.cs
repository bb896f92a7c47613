using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Admission;
using ClientLb.Sandbox.Api;
using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox;

/// <summary>
/// An in-process Kubernetes-like cluster for tests and demos: an API server on a loopback port that real
/// clients such as kubectl use (see <see cref="KubeconfigPath"/>), controllers for deployments and
/// EndpointSlices, and pods that are real HTTP servers on their own 127.244.x.y addresses.
/// </summary>
/// <example><code>
/// await using var cluster = await SandboxCluster.StartAsync();
/// await cluster.ApplyManifestAsync(File.ReadAllText("app.yaml"));
/// await cluster.WaitForReadyEndpointsAsync("my-service", 2);
/// </code></example>
public sealed partial class SandboxCluster : IAsyncDisposable
{
    private readonly SandboxOptions _options;
    private readonly ObjectStore _store;
    private readonly SandboxCertificates? _certificates;
    private readonly bool _ownsKubeconfig;
    private ApiServer? _api;
    private Dns.ClusterDnsServer? _dns;
    private int _apiPort;
    private Uri? _apiUri;
    private readonly WatchDeliveryGate _watchGate;
    private int _disposed;

    private SandboxCluster(SandboxOptions options)
    {
        _options = options;
        Time = options.TimeProvider;
        _watchGate = new WatchDeliveryGate(Time);
        _store = new ObjectStore(Time, options.WatchHistorySize);
        // ClusterIPs are bound by the service proxy: clusters in one process must not share them either.
        ServiceIps = new IpAllocator(options.ServiceCidr, nameof(options.ServiceCidr), processWide: true);
        PodIps = new IpAllocator(options.PodCidr, nameof(options.PodCidr), processWide: true);
        PodLogs = new Logs.PodLogs(Time);
        Tokens = new ServiceAccountTokens(_store);
        Events = new Controllers.EventRecorder(_store);
        NodeProxies = new Api.NodeProxyPods(Time, CreateNodeProxyPod, DeleteNodeProxyPod);
        long grace = (long)options.DefaultTerminationGracePeriod.TotalSeconds;
        _store.SetStrategy(ResourceTypes.Namespaces, new NamespaceStrategy());
        _store.SetStrategy(ResourceTypes.Services, new ServiceStrategy(ServiceIps));
        _store.SetStrategy(ResourceTypes.Pods, new PodStrategy(grace));
        _store.SetStrategy(ResourceTypes.Deployments, new DeploymentStrategy(grace));
        _store.SetStrategy(ResourceTypes.EndpointSlices, new EndpointSliceStrategy());
        _store.SetStrategy(ResourceTypes.DaemonSets, new DaemonSetStrategy(grace));
        _store.SetStrategy(ResourceTypes.Jobs, new JobStrategy(grace));
        _store.SetStrategy(ResourceTypes.ConfigMaps, new ConfigMapStrategy());
        _store.SetStrategy(ResourceTypes.Secrets, new SecretStrategy(Tokens));
        _store.SetStrategy(ResourceTypes.Events, new EventStrategy());
        foreach (ResourceType? t in new[] { ResourceTypes.Roles, ResourceTypes.ClusterRoles })
        {
            _store.SetStrategy(t, new RoleStrategy(t));
        }

        foreach (ResourceType? t in new[] { ResourceTypes.RoleBindings, ResourceTypes.ClusterRoleBindings })
        {
            _store.SetStrategy(t, new BindingStrategy(t));
        }

        if (options.UseHttps)
        {
            _certificates = SandboxCertificates.Create(Time);
            Tokens.CaPem = _certificates.CaPem;
            BearerToken = options.BearerToken ?? Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        }
        else
        {
            BearerToken = options.BearerToken;
        }

        _ownsKubeconfig = options.KubeconfigPath is null;
        KubeconfigPath = options.KubeconfigPath ?? Path.Combine(Path.GetTempPath(), $"clientlb-sandbox-{Guid.NewGuid():N}.kubeconfig");
    }

    internal ObjectStore Store => _store;
    internal IpAllocator ServiceIps { get; }
    internal IpAllocator PodIps { get; }
    internal Logs.PodLogs PodLogs { get; }
    internal ServiceAccountTokens Tokens { get; }
    internal Controllers.EventRecorder Events { get; }
    internal Api.NodeProxyPods NodeProxies { get; }
    internal TimeProvider Time { get; }

    /// <summary>The API server's base address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri ApiServerUri => _apiUri ?? throw new ObjectDisposedException(nameof(SandboxCluster));

    /// <summary>Where the cluster DNS listens (UDP and TCP), or null when <see cref="SandboxOptions.EnableDns"/> is off.</summary>
    public System.Net.IPEndPoint? DnsEndPoint => _dns?.EndPoint;

    /// <summary>The kubeconfig file pointing at this cluster (context, cluster and user "clientlb-sandbox", namespace default).</summary>
    public string KubeconfigPath { get; }

    /// <summary>The bearer token the API server requires, or null when it requires none.</summary>
    public string? BearerToken { get; }

    /// <summary>The CA that signed the API server's certificate (HTTPS only), or null over plain HTTP.</summary>
    public X509Certificate2? CertificateAuthority => _certificates?.CertificateAuthority;

    /// <summary>The cluster-wide resourceVersion of the last change.</summary>
    public long ResourceVersion => _store.ResourceVersion;

    /// <summary>Starts a cluster: API server listening, kubeconfig written, system namespaces and nodes created, controllers running.</summary>
    public static async Task<SandboxCluster> StartAsync(SandboxOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SandboxOptions();
        options.Validate();
        var cluster = new SandboxCluster(options);
        try
        {
            cluster.Bootstrap();
            cluster.StartControllers();
            await cluster.StartApiServerAsync(options.ApiPort, cancellationToken);
            if (options.EnableDns)
            {
                cluster._dns = Dns.ClusterDnsServer.Start(cluster._store, System.Net.IPAddress.Loopback, options.DnsPort, options.ClusterDomain,
                    (uint)options.DnsTtl.TotalSeconds, options.LoggerFactory);
                cluster.PublishClusterDns(cluster._dns);
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartApiServerAsync(int port, CancellationToken ct)
    {
        var api = new ApiServer(_store, _certificates?.ServerCertificate, BearerToken, () => _options.BookmarkInterval, _watchGate, _options.LoggerFactory, PodLogs, Tokens,
            _options.Authorization == SandboxAuthorization.Rbac ? new RbacAuthorizer(_store) : null, NodeProxies, Watches);
        await api.StartAsync(port, ct);
        _api = api;
        _apiPort = api.Uri.Port;
        _apiUri = api.Uri;
        string? dir = Path.GetDirectoryName(Path.GetFullPath(KubeconfigPath));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        await WriteOwnerOnlyAsync(KubeconfigPath, Kubeconfig.Render(api.Uri, _certificates?.CaPem, BearerToken), ct);
    }

    /// <summary>Writes the kubeconfig (it holds the bearer token) readable by its owner only: mode 0600, as kubectl writes its own.</summary>
    private static async Task WriteOwnerOnlyAsync(string path, string text, CancellationToken ct)
    {
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        await using (var stream = new FileStream(path, options))
        await using (var writer = new StreamWriter(stream))
        {
            await writer.WriteAsync(text.AsMemory(), ct);
        }
        // A file that already existed keeps its mode on create: narrow it too.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, OwnerOnly);
        }
    }

    private void Bootstrap()
    {
        foreach (string? ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" }.Concat(_options.Namespaces).Distinct())
        {
            _store.Create(ResourceTypes.Namespaces, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } });
        }

        foreach (SandboxNode node in _options.Nodes)
        {
            _store.Create(ResourceTypes.Nodes, null, NodeObject(node));
        }
    }

    private static JsonObject NodeObject(SandboxNode node) => new()
    {
        ["metadata"] = new JsonObject
        {
            ["name"] = node.Name,
            ["labels"] = new JsonObject
            {
                ["kubernetes.io/hostname"] = node.Name,
                ["kubernetes.io/os"] = "linux",
                ["topology.kubernetes.io/zone"] = node.Zone,
            },
        },
        ["spec"] = new JsonObject(),
        ["status"] = new JsonObject
        {
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True", ["reason"] = "KubeletReady" }),
            ["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = "127.0.0.1" }, new JsonObject { ["type"] = "Hostname", ["address"] = node.Name }),
            ["nodeInfo"] = new JsonObject { ["kubeletVersion"] = Discovery.KubernetesVersion, ["operatingSystem"] = "linux", ["architecture"] = "amd64" },
        },
    };

    /// <summary>
    /// An <see cref="HttpClient"/> for the API server: base address set, the bearer token attached and, over
    /// HTTPS, the sandbox CA trusted (only for this client).
    /// </summary>
    public HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler();
        if (_certificates is not null)
        {
            X509Certificate2 ca = _certificates.CertificateAuthority;
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            {
                if (cert is null)
                {
                    return false;
                }

                if (errors == System.Net.Security.SslPolicyErrors.None)
                {
                    return true;
                }

                if ((errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData()));
            };
        }
        var client = new HttpClient(handler) { BaseAddress = ApiServerUri };
        if (BearerToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BearerToken);
        }

        return client;
    }

    /// <summary>
    /// Stops the API server as a crash or restart would: open watches and connections break and new requests are
    /// refused, while the cluster's state, controllers, pods and DNS keep running. <see cref="StartApiServerAsync(CancellationToken)"/> brings it back.
    /// </summary>
    public async Task StopApiServerAsync()
    {
        ApiServer? api = Interlocked.Exchange(ref _api, null);
        if (api is not null)
        {
            await api.DisposeAsync();
        }
    }

    /// <summary>Starts the API server again on the same port with the same state, kubeconfig and credentials.</summary>
    public async Task StartApiServerAsync(CancellationToken cancellationToken = default)
    {
        if (_api is not null)
        {
            throw new InvalidOperationException("The sandbox API server is already running.");
        }

        await StartApiServerAsync(_apiPort, cancellationToken);
    }

    /// <summary>Stops the API server, the cluster DNS, the controllers and every pod server, and deletes the kubeconfig it created.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_dns is not null)
        {
            await _dns.DisposeAsync();
        }

        await StopControllersAsync();
        _certificates?.Dispose();
        if (_ownsKubeconfig)
        {
            try { File.Delete(KubeconfigPath); } catch (IOException) { }
        }
    }
}
