namespace ClientLb.Dns.Configuration;

/// <summary>How the DNS source turns a service name into endpoints.</summary>
public enum DnsResolutionMode
{
    /// <summary>SRV when the service name has a named port (<c>_http.svc.ns</c>, <c>svc.ns:http</c>), else every A/AAAA address.</summary>
    Auto,

    /// <summary>SRV records <c>_port._tcp.svc.ns.svc.cluster.local</c>: targets, ports, priorities and weights.</summary>
    Srv,

    /// <summary>A/AAAA of a headless service: every pod IP is an endpoint on the port from the name or URL.</summary>
    Headless,

    /// <summary>
    /// A/AAAA of a ClusterIP service: one virtual IP, so in-process balancing has a single target and kube-proxy
    /// balances per connection. Use the Kubernetes source for per-request balancing over the pods.
    /// </summary>
    ClusterIp,
}

/// <summary>Which address records to ask for.</summary>
[Flags]
public enum DnsAddressFamilies
{
    /// <summary>A records.</summary>
    IPv4 = 1,

    /// <summary>AAAA records.</summary>
    IPv6 = 2,

    /// <summary>Both (dual-stack clusters).</summary>
    Both = IPv4 | IPv6,
}

/// <summary>Options of the DNS endpoint source (<c>services.AddClientLbDns(o => ...)</c>).</summary>
public sealed class DnsSourceOptions
{
    /// <summary>The configuration section bound to these options (environment variables <c>ClientLb__Dns__*</c>).</summary>
    public const string SectionName = "ClientLb:Dns";

    /// <summary>The resolver configuration file; <c>/etc/resolv.conf</c> by default.</summary>
    public string? ResolvConfPath { get; set; } = "/etc/resolv.conf";

    /// <summary>Name servers (<c>IP</c>, <c>IP:port</c>, <c>[IPv6]:port</c>) replacing the file's <c>nameserver</c> lines.</summary>
    public IList<string> Servers { get; set; } = new List<string>();

    /// <summary>Search domains replacing the file's <c>search</c> line; null keeps the file's.</summary>
    public IList<string>? Search { get; set; }

    /// <summary>Replaces the file's <c>ndots</c> (0-15).</summary>
    public int? Ndots { get; set; }

    /// <summary>Replaces the file's per-attempt <c>timeout</c>.</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Replaces the file's <c>attempts</c> (1-5).</summary>
    public int? Attempts { get; set; }

    /// <summary>Replaces the file's <c>rotate</c>.</summary>
    public bool? Rotate { get; set; }

    /// <summary>The EDNS(0) UDP payload size to advertise (512-4096); 0 sends no EDNS. Default 1232 (DNS Flag Day 2020).</summary>
    public int UdpPayloadSize { get; set; } = 1232;

    /// <summary>How names become endpoints.</summary>
    public DnsResolutionMode Mode { get; set; } = DnsResolutionMode.Auto;

    /// <summary>
    /// False (default): ask for the fully qualified name (<c>svc.ns.svc.cluster.local.</c>), one query per refresh.
    /// True: ask for <c>svc.ns</c> through the search list as a pod's resolver would (with ndots:5 that may cost several queries).
    /// </summary>
    public bool UseSearchList { get; set; }

    /// <summary>Which address records to ask for.</summary>
    public DnsAddressFamilies AddressFamilies { get; set; } = DnsAddressFamilies.Both;

    /// <summary>The protocol label of SRV names (<c>_port._tcp.</c>): <c>tcp</c> or <c>udp</c>.</summary>
    public string SrvProtocol { get; set; } = "tcp";

    /// <summary>The port for address modes when the name has neither a port nor a scheme; null means such names are not served.</summary>
    public int? DefaultPort { get; set; }

    /// <summary>The shortest time between refreshes, whatever the TTL (TTL 0 answers would otherwise spin).</summary>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest time between refreshes, whatever the TTL.</summary>
    public TimeSpan MaxRefreshInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The wait after the first failed refresh; doubled after each further failure.</summary>
    public TimeSpan FailureBackoffInitial { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between failed refreshes.</summary>
    public TimeSpan FailureBackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long NXDOMAIN or an empty answer must persist before a service that had endpoints is published as empty.
    /// Protects against a DNS server briefly losing its data (e.g. CoreDNS restarting before its cache fills).
    /// </summary>
    public TimeSpan EmptyAnswerGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most SRV records of one answer whose targets are resolved (default 256); the rest are dropped and reported, so
    /// a hostile or broken answer cannot turn one refresh into thousands of queries. Targets are resolved 8 at a time.
    /// </summary>
    public int MaxSrvTargets { get; set; } = 256;

    /// <summary>
    /// Whether answers in 127.0.0.0/8 and <c>::1</c> may be endpoints. False (default): a forged or misconfigured answer
    /// must not send requests (and their credentials) to the client's own host; the address is dropped and reported.
    /// The sandbox and tests whose servers are on loopback turn it on.
    /// </summary>
    public bool AllowLoopbackEndpoints { get; set; }
}
