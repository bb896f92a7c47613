namespace ClientLb.Kubernetes;

/// <summary>Where the Kubernetes source finds the API server.</summary>
public enum KubernetesConfigMode
{
    /// <summary>
    /// <see cref="KubernetesSourceOptions.KubeconfigPath"/> when set; else in-cluster when KUBERNETES_SERVICE_HOST is set;
    /// else <c>KUBECONFIG</c> or <c>~/.kube/config</c>; else the source serves nothing (later factories such as DNS are asked).
    /// </summary>
    Auto,

    /// <summary>Only the in-cluster service account.</summary>
    InCluster,

    /// <summary>Only a kubeconfig file (<see cref="KubernetesSourceOptions.KubeconfigPath"/>, <c>KUBECONFIG</c> or <c>~/.kube/config</c>).</summary>
    Kubeconfig,
}

/// <summary>Options of the Kubernetes endpoint source (<c>services.AddClientLbKubernetes(o => ...)</c>).</summary>
public sealed class KubernetesSourceOptions
{
    /// <summary>The configuration section bound to these options (environment variables <c>ClientLb__Kubernetes__*</c>).</summary>
    public const string SectionName = "ClientLb:Kubernetes";

    /// <summary>How the API server configuration is found.</summary>
    public KubernetesConfigMode Mode { get; set; } = KubernetesConfigMode.Auto;

    /// <summary>A kubeconfig file (or several separated by ':'), overriding <c>KUBECONFIG</c>.</summary>
    public string? KubeconfigPath { get; set; }

    /// <summary>The kubeconfig context to use instead of its current-context.</summary>
    public string? Context { get; set; }

    /// <summary>Overrides of the in-cluster file paths and environment (tests, sidecars); null uses the standard ones.</summary>
    public Config.InClusterConfig? InCluster { get; set; }

    /// <summary>The time limit of list requests and of opening a watch.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one watch request lasts before it is renewed (from the last resourceVersion); jittered by up to +50 %
    /// so many clients do not reconnect together. Default 5 minutes, like client-go's informers.
    /// </summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A full re-list as a safety net against a missed event, this often (jittered by up to +10 %). Default 10 minutes.</summary>
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How often a watched Service is read again with <c>get</c> when the account may get it but not list and watch
    /// Services (default 30 s): the EndpointSlices are still watched, so endpoints change at once; only a change to the
    /// Service itself (ports, affinity) waits up to this long. Each resync tries list and watch again.
    /// </summary>
    public TimeSpan ServicePollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The first reconnect delay after a failure (default 1 s); doubled per failure in a row with jitter, and back to this
    /// only after 10 s without failing. A watch that ends early once after a healthy period reconnects at once.
    /// </summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest reconnect delay (default 30 s); a server's Retry-After is honoured up to this long.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The largest watch event accepted, in bytes (default 16 MB, far above a 1,000-endpoint slice of about 250 KB). A larger
    /// event ends the watch with an error naming the object, and the watch restarts after the backoff.
    /// </summary>
    public int MaxEventBytes { get; set; } = Client.WatchLines.MaxLineBytes;

    /// <summary>
    /// When this many services of one namespace are watched, one namespace-wide watch replaces the per-service watches
    /// (fewer requests and streams; the whole namespace's slices are cached). Default 10. The namespace goes back to
    /// per-service watches when fewer than half this many of its services remain watched (never for 1 and 2), so a
    /// count moving around the threshold does not re-list each time. Each switch hands every service over only once
    /// the new watch has listed it: endpoints never go missing nor back to an older state.
    /// </summary>
    public int NamespaceWatchThreshold { get; set; } = 10;

    /// <summary>The health check reports Degraded when a service's endpoints have been stale (the API unreachable) this long.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The kind of another registered source (e.g. <c>dns</c>) to serve a service while the API answers 403 Forbidden
    /// (missing RBAC); null (default) keeps failing with an error naming the missing rule.
    /// </summary>
    public string? FallbackOnForbidden { get; set; }

    /// <summary>
    /// Whether EndpointSlice addresses in 127.0.0.0/8 and <c>::1</c> may be endpoints. Null (default): only when the API
    /// server itself is reached on a loopback address (the sandbox, whose pods are 127.244.x.y servers, or a tunnel on
    /// this host); a pod of a real cluster is never on the client's loopback, so there such an address is dropped and
    /// reported like any other unusable one. True or false decides for every API server.
    /// </summary>
    public bool? AllowLoopbackEndpoints { get; set; }

    /// <summary>
    /// The node relay, tried before this process's own API watch when its socket's directory is mounted (see
    /// <see cref="NodeRelayOptions"/>): one API watch per node instead of one per pod.
    /// </summary>
    public NodeRelayOptions NodeRelay { get; set; } = new();

    /// <summary>Whether loopback endpoints are used from <paramref name="apiServer"/> (<see cref="AllowLoopbackEndpoints"/>, else whether it is on loopback).</summary>
    public bool LoopbackEndpointsAllowed(Uri apiServer)
    {
        ArgumentNullException.ThrowIfNull(apiServer);
        return AllowLoopbackEndpoints ?? apiServer.IsLoopback;
    }
}
