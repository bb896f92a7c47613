using System.Net;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Configuration;

/// <summary>The effective resolver settings: resolv.conf, with any overrides from <see cref="DnsSourceOptions"/> applied.</summary>
internal sealed record DnsResolverSettings
{
    /// <summary>Where the settings came from, for messages (e.g. <c>/etc/resolv.conf</c> or <c>options</c>).</summary>
    public string Origin { get; init; } = "options";

    /// <summary>The name servers, in order.</summary>
    public IReadOnlyList<IPEndPoint> Servers { get; init; } = [];

    /// <summary>The search domains.</summary>
    public IReadOnlyList<string> Search { get; init; } = [];

    /// <summary>The ndots threshold.</summary>
    public int Ndots { get; init; } = 1;

    /// <summary>The per-attempt timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many rounds over the servers.</summary>
    public int Attempts { get; init; } = 2;

    /// <summary>Rotate the starting server between queries.</summary>
    public bool Rotate { get; init; }

    /// <summary>The EDNS(0) UDP payload size to advertise, or null to send no OPT record.</summary>
    public ushort? UdpPayloadSize { get; init; } = DnsEdns.RecommendedUdpPayloadSize;

    /// <summary>Lines of the resolver configuration that were skipped, and why.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Builds the settings from a parsed resolv.conf (servers on port 53).</summary>
    public static DnsResolverSettings FromResolvConf(ResolvConf conf)
    {
        ArgumentNullException.ThrowIfNull(conf);
        return new DnsResolverSettings
        {
            Origin = conf.Origin,
            Servers = conf.Nameservers.Select(a => new IPEndPoint(a, DnsServerAddress.DefaultPort)).ToArray(),
            Search = conf.Search,
            Ndots = conf.Ndots,
            Timeout = conf.Timeout,
            Attempts = conf.Attempts,
            Rotate = conf.Rotate,
            Warnings = conf.Warnings,
        };
    }

    /// <summary>
    /// The settings for <paramref name="options"/>: the resolv.conf file (unless every part is overridden) with each set option replacing its value.
    /// </summary>
    /// <exception cref="IOException">The resolv.conf file is needed but cannot be read.</exception>
    /// <exception cref="FormatException">A server in <see cref="DnsSourceOptions.Servers"/> is not an IP address with an optional port.</exception>
    public static DnsResolverSettings FromOptions(DnsSourceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool needsFile = options.Servers.Count == 0 || options.Search is null || options.Ndots is null || options.Timeout is null || options.Attempts is null;
        DnsResolverSettings baseline = needsFile && !string.IsNullOrEmpty(options.ResolvConfPath)
            ? FromResolvConf(LoadOrEmpty(options))
            : new DnsResolverSettings();
        return baseline with
        {
            Origin = options.Servers.Count > 0 ? "DnsSourceOptions.Servers" : baseline.Origin,
            Servers = options.Servers.Count > 0 ? options.Servers.Select(DnsServerAddress.Parse).ToArray() : baseline.Servers,
            Search = options.Search is { } search ? search.Select(s => s.TrimEnd('.')).Where(s => s.Length > 0).ToArray() : baseline.Search,
            Ndots = options.Ndots ?? baseline.Ndots,
            Timeout = options.Timeout ?? baseline.Timeout,
            Attempts = options.Attempts ?? baseline.Attempts,
            Rotate = options.Rotate ?? baseline.Rotate,
            UdpPayloadSize = options.UdpPayloadSize == 0 ? null : (ushort)options.UdpPayloadSize,
        };
    }

    // When servers are given in options the file only supplies defaults (search, ndots...), so its absence is fine.
    private static ResolvConf LoadOrEmpty(DnsSourceOptions options) =>
        options.Servers.Count > 0 && !File.Exists(options.ResolvConfPath) ? new ResolvConf { Origin = "defaults" } : ResolvConf.Load(options.ResolvConfPath!);
}
