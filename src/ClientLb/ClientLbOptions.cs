using System.Net.Http;
using ClientLb.LoadBalancing;

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

    /// <summary>The policy of services that name none. <c>RoundRobin</c> by default.</summary>
    public string DefaultPolicy { get; set; } = RoundRobinPolicy.PolicyName;

    /// <summary>Statically configured services, by name (<c>payments</c> or <c>payments.finance</c>).</summary>
    public IDictionary<string, ServiceOptions> Services { get; } = new Dictionary<string, ServiceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Retries on another endpoint.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>
    /// The longest a first request waits for a source's first answer (a DNS query, an API list) before failing.
    /// Later requests never wait: they use the current snapshot.
    /// </summary>
    public TimeSpan InitialResolutionTimeout { get; set; } = TimeSpan.FromSeconds(10);

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

    /// <summary>How many times a request may be retried, each time on a different endpoint. 1 by default.</summary>
    public int MaxRetryAttempts { get; set; } = 1;
}
