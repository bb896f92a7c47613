using System.Net.Http;
using ClientLb.Balancing.Policies;

namespace ClientLb;

/// <summary>
/// ClientLb settings, bound from the <c>ClientLb</c> configuration section:
/// <code>"ClientLb": { "Services": { "payments": { "Endpoints": ["127.0.0.2:5001"], "Policy": "RoundRobin" } } }</code>
/// The <c>Services:{name}:{endpointName}</c> shape of Microsoft.Extensions.ServiceDiscovery is read too.
/// </summary>
public sealed class ClientLbOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string SectionName = "ClientLb";

    /// <summary>The namespace of names without one; unset means the pod's service-account namespace, else <c>default</c>.</summary>
    public string? Namespace { get; set; }

    /// <summary>The cluster domain, <c>cluster.local</c> by default.</summary>
    public string? ClusterDomain { get; set; }

    /// <summary>
    /// The policy of services that name none. <c>Auto</c> by default: round-robin for HTTP/1.x requests and
    /// least-outstanding power-of-two-choices for HTTP/2 and HTTP/3 (and so gRPC), where many requests share a connection.
    /// Set <c>RoundRobin</c> to restore round-robin for every request.
    /// </summary>
    public string DefaultPolicy { get; set; } = AutoPolicy.PolicyName;

    /// <summary>Where this process runs (node, zone, address): used by topology preference and <c>ClientIp</c> affinity.</summary>
    public LocalityOptions Locality { get; set; } = new();

    /// <summary>
    /// Services by name (<c>payments</c> or <c>payments.finance</c>): an entry with endpoints is a static service; an entry
    /// without endpoints only sets the policy and its parameters for a service found by discovery (DNS, Kubernetes).
    /// </summary>
    public IDictionary<string, ServiceOptions> Services { get; } = new Dictionary<string, ServiceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Retries on another endpoint.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>
    /// The longest a first request waits for a source's first answer (a DNS query, an API list) before failing.
    /// Later requests never wait: they use the current snapshot.
    /// </summary>
    public TimeSpan InitialResolutionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a service no client holds any more (every HttpClient handler and gRPC channel using it disposed, or
    /// evicted from their caches) keeps its balancer and source before both are disposed, which stops the source's watch
    /// or refresh loop. A client that comes back within it gets the same balancer, with its endpoint health, latency
    /// estimates and connections. 5 minutes by default: longer than HttpClientFactory's 2-minute handler lifetime, so
    /// a rotated handler finds the service still there even when the old handler is disposed before the new one's first
    /// request, while a watch nobody needs stops within minutes. Zero releases at once; at most 49 days (a timer's limit).
    /// </summary>
    public TimeSpan IdleServiceTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Adjusts the per-endpoint <see cref="SocketsHttpHandler"/> (TLS options, timeouts, HTTP/2 settings).
    /// ClientLb sets its connect callback, and turns off proxies, redirects and cookies, which cannot work per endpoint.
    /// </summary>
    public Action<SocketsHttpHandler>? ConfigureTransport { get; set; }
}

/// <summary>One statically configured service.</summary>
public sealed class ServiceOptions
{
    /// <summary>Endpoints as <c>host:port</c>, <c>[v6]:port</c> or <c>http(s)://host:port</c>.</summary>
    public IList<string> Endpoints { get; set; } = new List<string>();

    /// <summary>The balancing policy name; the <see cref="ClientLbOptions.DefaultPolicy"/> when unset.</summary>
    public string? Policy { get; set; }

    /// <summary>Parameters of the <c>PeakEwma</c> policy.</summary>
    public PeakEwmaOptions PeakEwma { get; set; } = new();

    /// <summary>The key of the <c>Hash</c> and <c>Sticky</c> policies, and the session timeout of <c>Sticky</c>.</summary>
    public AffinityOptions Affinity { get; set; } = new();

    /// <summary>Preference for endpoints on the same node, then in the same zone, in front of any policy.</summary>
    public TopologyOptions Topology { get; set; } = new();

    /// <summary>Passive health: outlier ejection, panic threshold and slow start.</summary>
    public HealthOptions Health { get; set; } = new();

    /// <summary>The share of recent requests that may be retried or hedged.</summary>
    public RetryBudgetOptions RetryBudget { get; set; } = new();

    /// <summary>Hedged attempts for idempotent requests (off by default).</summary>
    public HedgingOptions Hedging { get; set; } = new();

    /// <summary>
    /// Endpoints by endpoint name, as Microsoft.Extensions.ServiceDiscovery configures them
    /// (<c>Services:{name}:{endpointName}</c>: <c>default</c>, a scheme such as <c>https</c>, or a named port).
    /// </summary>
    public IDictionary<string, IList<string>> NamedEndpoints { get; } = new Dictionary<string, IList<string>>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Retry on another endpoint.</summary>
public sealed class RetryOptions
{
    /// <summary>Whether requests are retried at all. On by default.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How many times a request may be retried, each time on another endpoint than the attempt before. 2 by default, so a
    /// retry that meets a second failure (one endpoint refusing while another is being replaced) still succeeds; the
    /// service's retry budget, not this number, keeps retries from multiplying an outage.
    /// </summary>
    public int MaxRetryAttempts { get; set; } = 2;
}
