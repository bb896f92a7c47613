namespace ClientLb;

/// <summary>
/// Where this process runs. Bind from the downward API, e.g. <c>ClientLb__Locality__NodeName</c> from <c>spec.nodeName</c>;
/// unset node and zone fall back to the environment variables <c>NODE_NAME</c>/<c>KUBERNETES_NODE_NAME</c> and
/// <c>NODE_ZONE</c>/<c>TOPOLOGY_ZONE</c>.
/// </summary>
public sealed class LocalityOptions
{
    /// <summary>The node this process runs on, for EndpointSlice node hints and same-node preference.</summary>
    public string? NodeName { get; set; }

    /// <summary>The zone (<c>topology.kubernetes.io/zone</c>) this process runs in, for EndpointSlice zone hints and same-zone preference.</summary>
    public string? Zone { get; set; }

    /// <summary>This process's IP address (the pod IP): the key of <c>ClientIp</c> affinity, as kube-proxy sees the client.</summary>
    public string? Address { get; set; }
}

/// <summary>Parameters of the <c>PeakEwma</c> policy (linkerd2-proxy's defaults).</summary>
public sealed class PeakEwmaOptions
{
    /// <summary>How fast old latencies are forgotten: an observation's weight falls by 1/e per decay time. 10 s by default.</summary>
    public TimeSpan DecayTime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The latency assumed for an endpoint that has not answered yet. 30 ms by default.</summary>
    public TimeSpan DefaultLatency { get; set; } = TimeSpan.FromMilliseconds(30);
}

/// <summary>Where the affinity key of a request comes from.</summary>
public enum AffinityKeySource
{
    /// <summary>This process's address (<see cref="LocalityOptions.Address"/>): kube-proxy's <c>sessionAffinity: ClientIP</c>, seen from this client.</summary>
    ClientIp,

    /// <summary>The value of the request header <see cref="AffinityOptions.Name"/>.</summary>
    Header,

    /// <summary>The value of the cookie <see cref="AffinityOptions.Name"/> in the request's <c>Cookie</c> header.</summary>
    Cookie,

    /// <summary>A key the caller sets per request: <c>request.Options.Set(ClientLbRequestOptions.AffinityKey, "...")</c>.</summary>
    Caller,
}

/// <summary>The key of the <c>Hash</c> and <c>Sticky</c> policies. A request without a key gets a random endpoint.</summary>
public sealed class AffinityOptions
{
    /// <summary>Where the key comes from. <see cref="AffinityKeySource.ClientIp"/> by default.</summary>
    public AffinityKeySource Key { get; set; } = AffinityKeySource.ClientIp;

    /// <summary>The header or cookie name, for <see cref="AffinityKeySource.Header"/> and <see cref="AffinityKeySource.Cookie"/>.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// How long a <c>Sticky</c> session lasts since its last request (kube-proxy's
    /// <c>sessionAffinityConfig.clientIP.timeoutSeconds</c>). 10800 s (3 h) by default.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10800);
}

/// <summary>
/// Topology preference: same node first, then same zone, widening when too little of the local set is healthy. EndpointSlice
/// hints (a Service's <c>trafficDistribution</c>) apply without it, and take precedence when they apply.
/// </summary>
public sealed class TopologyOptions
{
    /// <summary>Whether to prefer local endpoints. Off by default (it needs <see cref="ClientLbOptions.Locality"/>).</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// The share of a local set (same node, same zone) that must be healthy to keep traffic in it; below it the next wider
    /// set is used. 0.7 by default (Istio's overprovisioning factor 1.4).
    /// </summary>
    public double MinHealthyShare { get; set; } = 0.7;
}

/// <summary>Passive health (Envoy's outlier detection): endpoints that fail in a row are ejected for a while.</summary>
public sealed class HealthOptions
{
    /// <summary>Whether passive health is on. On by default.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Connection failures in a row (refused, reset, timed out) that eject an endpoint; 0 never ejects for them. 5 by default.</summary>
    public int ConsecutiveConnectionFailures { get; set; } = 5;

    /// <summary>5xx responses in a row that eject an endpoint; 0 never ejects for them. 5 by default.</summary>
    public int ConsecutiveServerErrors { get; set; } = 5;

    /// <summary>The first ejection's length; each further ejection doubles it. 30 s by default.</summary>
    public TimeSpan BaseEjectionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest ejection. 300 s by default.</summary>
    public TimeSpan MaxEjectionTime { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>The largest share of endpoints ejected at once (at least one may always be). 0.5 by default.</summary>
    public double MaxEjectedShare { get; set; } = 0.5;

    /// <summary>When fewer than this share of endpoints is healthy, every endpoint is used (panic). 0.5 by default; 0 never panics.</summary>
    public double PanicThreshold { get; set; } = 0.5;

    /// <summary>
    /// How long a returning or newly added endpoint takes to get its full share of traffic (linear ramp). Zero (off) by
    /// default. Endpoints present when the service is first resolved start at full share.
    /// </summary>
    public TimeSpan SlowStartWindow { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How often an ejected endpoint is probed; it returns (with <see cref="SlowStartWindow"/>) as soon as a probe
    /// succeeds, instead of after its whole ejection time. An endpoint ejected for connection failures is probed with a TCP
    /// connect (or the endpoint prober an integration installs, such as grpc.health.v1); one ejected for server errors
    /// only by an installed prober (a TCP connect says nothing about its answers). 500 ms by default; zero turns probing off.
    /// </summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long one probe may take. 1 s by default.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// A retry budget (Finagle, linkerd): retries and hedges may add at most <see cref="Ratio"/> of the requests of the last
/// <see cref="Window"/>, plus <see cref="MinRetriesPerSecond"/>, so retries cannot multiply the load of an outage.
/// </summary>
public sealed class RetryBudgetOptions
{
    /// <summary>Whether retries are limited by the budget. On by default.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Retries allowed per request in the window. 0.2 by default.</summary>
    public double Ratio { get; set; } = 0.2;

    /// <summary>Retries always allowed per second, so a quiet service can still retry. 10 by default.</summary>
    public int MinRetriesPerSecond { get; set; } = 10;

    /// <summary>How far back requests and retries are counted. 10 s by default.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Hedging: an idempotent request still unanswered after <see cref="Delay"/> is sent to another endpoint as well; the first answer wins.</summary>
public sealed class HedgingOptions
{
    /// <summary>Whether idempotent requests with a replayable body are hedged. Off by default.</summary>
    public bool Enabled { get; set; }

    /// <summary>How long to wait for an answer before sending a hedged attempt. 100 ms by default.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How many hedged attempts may be added to the first. 1 by default.</summary>
    public int MaxHedgedAttempts { get; set; } = 1;
}
