using ClientLb.Sandbox.Pods;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox;

/// <summary>Options of a <see cref="SandboxCluster"/>. Every address stays inside 127.0.0.0/8.</summary>
public sealed class SandboxOptions
{
    /// <summary>TCP port of the API server on 127.0.0.1; 0 (the default) picks a free port.</summary>
    public int ApiPort { get; set; }

    /// <summary>Where to write the kubeconfig; by default a new file under the temp directory, deleted on dispose.</summary>
    public string? KubeconfigPath { get; set; }

    /// <summary>Serve HTTPS with a freshly generated CA (kubeconfig gets certificate-authority-data) and require a bearer token.</summary>
    public bool UseHttps { get; set; }

    /// <summary>Bearer token the API server requires; generated when <see cref="UseHttps"/> is set and this is null.</summary>
    public string? BearerToken { get; set; }

    /// <summary>ClusterIP range; must lie inside 127.0.0.0/8. Default 127.96.0.0/16.</summary>
    public string ServiceCidr { get; set; } = "127.96.0.0/16";

    /// <summary>Pod IP range; must lie inside 127.0.0.0/8 and not overlap <see cref="ServiceCidr"/>. Default 127.244.0.0/16.</summary>
    public string PodCidr { get; set; } = "127.244.0.0/16";

    /// <summary>How many change events are retained for watches resuming from a resourceVersion (older ones get 410 Expired).</summary>
    public int WatchHistorySize { get; set; } = 1000;

    /// <summary>How often an idle watch with allowWatchBookmarks gets a BOOKMARK event. Default one minute, like the API server.</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Maximum endpoints per managed EndpointSlice (kube-controller-manager's --max-endpoints-per-slice). Default 100.</summary>
    public int MaxEndpointsPerSlice { get; set; } = 100;

    /// <summary>Grace period of pods whose spec does not set terminationGracePeriodSeconds. Default 30 s, like Kubernetes.</summary>
    public TimeSpan DefaultTerminationGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The nodes; pods are spread over them. Default: three nodes in zones zone-a, zone-b and zone-c.</summary>
    public IList<SandboxNode> Nodes { get; set; } =
    [
        new("sandbox-node-a", "zone-a"),
        new("sandbox-node-b", "zone-b"),
        new("sandbox-node-c", "zone-c"),
    ];

    /// <summary>Namespaces created at start besides default, kube-system, kube-public and kube-node-lease.</summary>
    public IList<string> Namespaces { get; set; } = [];

    /// <summary>Serve cluster DNS (CoreDNS's kubernetes plugin behaviour) on 127.0.0.1. On by default.</summary>
    public bool EnableDns { get; set; } = true;

    /// <summary>UDP and TCP port of the cluster DNS on 127.0.0.1; 0 (the default) picks a free port.</summary>
    public int DnsPort { get; set; }

    /// <summary>The cluster domain served by the cluster DNS. Default cluster.local.</summary>
    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>TTL of cluster DNS answers (and the SOA's negative TTL). Default 5 s, like CoreDNS.</summary>
    public TimeSpan DnsTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The clock for grace periods, watch timeouts, bookmarks and timestamps. Tests may pass a manual one.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Run the userspace service proxy: listen on every ClusterIP:port (TCP and UDP) and forward to the Service's ready
    /// endpoints, so clients on the host reach Services by ClusterIP without root (ports below 1024 need root). On by default.
    /// </summary>
    public bool EnableServiceProxy { get; set; } = true;

    /// <summary>
    /// How requests are authorized. <see cref="SandboxAuthorization.AlwaysAllow"/> (the default) lets every authenticated
    /// request through; <see cref="SandboxAuthorization.Rbac"/> checks requests made with a service account's token against the
    /// Roles, ClusterRoles and bindings stored in the sandbox (the kubeconfig's own credentials stay cluster admin).
    /// </summary>
    public SandboxAuthorization Authorization { get; set; } = SandboxAuthorization.AlwaysAllow;

    /// <summary>
    /// Programs for the container images of run-to-completion pods (Jobs' pods, and pods with <c>restartPolicy</c> Never or
    /// OnFailure), by image reference: an exact match first (<c>clientlb/payment-client:0.1.0</c>), then the reference
    /// without its tag or digest (<c>clientlb/payment-client</c>). A container whose image has none fails at once with reason
    /// <c>ImageNotRunnable</c> naming the image, and so does its Job. Pods that restart always stay loopback HTTP servers.
    /// </summary>
    public IDictionary<string, SandboxProgram> Images { get; set; } = new Dictionary<string, SandboxProgram>(StringComparer.Ordinal);

    /// <summary>
    /// The first delay before a Job replaces a failed pod (or an OnFailure container restarts); doubled per failure, at
    /// most six minutes. Default 10 s, like the Job controller.
    /// </summary>
    public TimeSpan JobBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Receives the sandbox's logs (API errors, controller failures); none by default.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (ApiPort is < 0 or > 65535)
        {
            throw new ArgumentException($"ApiPort {ApiPort} is not a TCP port (0-65535)", nameof(ApiPort));
        }

        (uint svcBase, int svcPrefix) = Store.IpAllocator.ParseLoopbackCidr(ServiceCidr, nameof(ServiceCidr));
        (uint podBase, int podPrefix) = Store.IpAllocator.ParseLoopbackCidr(PodCidr, nameof(PodCidr));
        int prefix = Math.Min(svcPrefix, podPrefix);
        uint mask = uint.MaxValue << (32 - prefix);
        if ((svcBase & mask) == (podBase & mask))
        {
            throw new ArgumentException($"PodCidr {PodCidr} overlaps ServiceCidr {ServiceCidr}", nameof(PodCidr));
        }

        if (WatchHistorySize < 1)
        {
            throw new ArgumentException($"WatchHistorySize must be at least 1 (got {WatchHistorySize})", nameof(WatchHistorySize));
        }

        if (BookmarkInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"BookmarkInterval must be positive (got {BookmarkInterval})", nameof(BookmarkInterval));
        }

        if (MaxEndpointsPerSlice is < 1 or > 1000)
        {
            throw new ArgumentException($"MaxEndpointsPerSlice must be between 1 and 1000 (got {MaxEndpointsPerSlice})", nameof(MaxEndpointsPerSlice));
        }

        if (DefaultTerminationGracePeriod < TimeSpan.Zero)
        {
            throw new ArgumentException("DefaultTerminationGracePeriod must not be negative", nameof(DefaultTerminationGracePeriod));
        }

        if (Nodes is null || Nodes.Count == 0)
        {
            throw new ArgumentException("Nodes must contain at least one node", nameof(Nodes));
        }

        foreach (SandboxNode n in Nodes)
        {
            if (Store.Validation.NameError(Store.NameRule.Dns1123Subdomain, n.Name) is { } err)
            {
                throw new ArgumentException($"node name \"{n.Name}\" is invalid: {err}", nameof(Nodes));
            }

            if (Store.Validation.LabelValueError(n.Zone) is { } zerr)
            {
                throw new ArgumentException($"zone \"{n.Zone}\" of node \"{n.Name}\" is not a valid label value: {zerr}", nameof(Nodes));
            }
        }
        if (Nodes.Select(n => n.Name).Distinct().Count() != Nodes.Count)
        {
            throw new ArgumentException("node names must be unique", nameof(Nodes));
        }

        foreach (string ns in Namespaces)
        {
            if (Store.Validation.Dns1123LabelError(ns) is { } nerr)
            {
                throw new ArgumentException($"namespace \"{ns}\" is invalid: {nerr}", nameof(Namespaces));
            }
        }

        if (DnsPort is < 0 or > 65535)
        {
            throw new ArgumentException($"DnsPort {DnsPort} is not a port (0-65535)", nameof(DnsPort));
        }

        if (DnsTtl < TimeSpan.Zero || DnsTtl > TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"DnsTtl must be between 0 and one day (got {DnsTtl})", nameof(DnsTtl));
        }

        if (string.IsNullOrWhiteSpace(ClusterDomain) || ClusterDomain.Trim('.').Split('.').Any(l => Store.Validation.Dns1123LabelError(l) is not null))
        {
            throw new ArgumentException($"ClusterDomain \"{ClusterDomain}\" is not a valid DNS name", nameof(ClusterDomain));
        }

        if (Images is null)
        {
            throw new ArgumentException("Images must not be null (leave it empty for none)", nameof(Images));
        }

        foreach ((string? image, SandboxProgram? program) in Images)
        {
            if (string.IsNullOrWhiteSpace(image))
            {
                throw new ArgumentException("an image reference in Images is empty", nameof(Images));
            }

            if (program is null)
            {
                throw new ArgumentException($"the program of image \"{image}\" in Images is null", nameof(Images));
            }
        }
        if (JobBackoff < TimeSpan.Zero)
        {
            throw new ArgumentException($"JobBackoff must not be negative (got {JobBackoff})", nameof(JobBackoff));
        }

        if (BearerToken is { Length: 0 })
        {
            throw new ArgumentException("BearerToken must not be empty (use null for none)", nameof(BearerToken));
        }
    }
}

/// <summary>The sandbox API server's authorization mode.</summary>
public enum SandboxAuthorization
{
    /// <summary>Every authenticated request is allowed.</summary>
    AlwaysAllow,

    /// <summary>Service-account requests are allowed only by stored Roles/ClusterRoles and their bindings.</summary>
    Rbac,
}
