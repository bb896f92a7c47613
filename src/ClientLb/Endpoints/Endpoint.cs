using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using ClientLb.Eligibility;
using ClientLb.Names;

namespace ClientLb.Endpoints;

/// <summary>
/// One backend of a service: where to connect (an IP address, or a DNS name for static configuration),
/// the port, and what Kubernetes says about it (conditions, zone, node). Immutable.
/// </summary>
public sealed class Endpoint : IEquatable<Endpoint>
{
    /// <summary>Creates an endpoint for an IP address.</summary>
    /// <param name="address">The IP address.</param>
    /// <param name="port">The port (1-65535).</param>
    /// <param name="conditions">The EndpointSlice conditions; ready and serving when null.</param>
    /// <param name="hostname">The pod's hostname, if any.</param>
    /// <param name="zone">The zone the endpoint runs in, if known.</param>
    /// <param name="nodeName">The node the endpoint runs on, if known.</param>
    /// <param name="weight">A relative weight, at least 1.</param>
    /// <param name="scheme">The scheme the endpoint must be called with, if its source says so.</param>
    /// <param name="zoneHints">The zones this endpoint should serve (EndpointSlice <c>hints.forZones</c>); empty when none.</param>
    /// <param name="nodeHints">The nodes this endpoint should serve (EndpointSlice <c>hints.forNodes</c>); empty when none.</param>
    public Endpoint(IPAddress address, int port, EndpointConditions? conditions = null, string? hostname = null, string? zone = null, string? nodeName = null, int weight = 1, string? scheme = null,
        IReadOnlyList<string>? zoneHints = null, IReadOnlyList<string>? nodeHints = null)
        : this(address ?? throw new ArgumentNullException(nameof(address)), null, port, conditions, hostname, zone, nodeName, weight, scheme, zoneHints, nodeHints)
    {
    }

    private Endpoint(IPAddress? address, string? dnsName, int port, EndpointConditions? conditions, string? hostname, string? zone, string? nodeName, int weight, string? scheme,
        IReadOnlyList<string>? zoneHints = null, IReadOnlyList<string>? nodeHints = null)
    {
        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, $"Endpoint '{address?.ToString() ?? dnsName}': the port {port} is outside 1-65535.");
        }
        if (weight < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"Endpoint '{address?.ToString() ?? dnsName}:{port}': the weight must be at least 1.");
        }
        Address = address;
        Port = port;
        Conditions = conditions ?? EndpointConditions.ReadyAndServing;
        Zone = zone;
        NodeName = nodeName;
        string? name = address is null ? dnsName : null;
        if (name is not null || hostname is not null || scheme is not null || weight != 1 || zoneHints is { Count: > 0 } || nodeHints is { Count: > 0 })
        {
            _rest = new Details(name, hostname, scheme, weight, zoneHints is null || zoneHints.Count == 0 ? [] : [.. zoneHints], nodeHints is null || nodeHints.Count == 0 ? [] : [.. nodeHints]);
        }
    }

    // One field for what most endpoints lack (issue 18): the details (see Details), set at construction for an endpoint
    // that has any; once the endpoint is called, its Connection, which then holds the details. An endpoint of a process
    // watching thousands of services is mostly held, rarely called: the texts and the socket endpoint are made on first
    // use and kept. Identity, hashing and equality read the address itself (see AddressComparer), so holding an endpoint
    // costs no strings.
    private object? _rest;
    private Details? Rare => Volatile.Read(ref _rest) switch { Details details => details, Connection connection => connection.Details, _ => null };
    private string? DnsName => Rare?.DnsName;

    // What most endpoints of a watched Kubernetes service lack (a DNS name, hostname, scheme, a weight other than 1,
    // topology hints), in one object made only for an endpoint that has one of them: six fields fewer in each of the
    // others.

    private sealed class Details(string? dnsName, string? hostname, string? scheme, int weight, IReadOnlyList<string> zoneHints, IReadOnlyList<string> nodeHints)
    {
        public int Weight { get; } = weight;

        public string? DnsName { get; } = dnsName;

        public string? Hostname { get; } = hostname;

        public string? Scheme { get; } = scheme;

        public IReadOnlyList<string> ZoneHints { get; } = zoneHints;

        public IReadOnlyList<string> NodeHints { get; } = nodeHints;
    }

    /// <summary>Compares endpoints by <see cref="SameAddress"/> (host and port) without making their texts.</summary>
    public static IEqualityComparer<Endpoint> AddressComparer { get; } = new AddressIdentity();

    /// <summary>Creates an endpoint for a DNS name (static configuration such as <c>localhost:5001</c>); resolved when connecting.</summary>
    public static Endpoint ForDnsName(string dnsName, int port, string? scheme = null, int weight = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dnsName);
        if (HostNames.LooksLikeAddress(dnsName))
        {
            return EndpointAddress.TryParse(dnsName, allowLoopback: true, out IPAddress? address, out string? error)
                ? new Endpoint(address, port, scheme: scheme, weight: weight)
                : throw new ArgumentException($"Endpoint '{EndpointAddress.Display(dnsName)}': {error}.", nameof(dnsName));
        }
        if (Uri.CheckHostName(dnsName) != UriHostNameType.Dns)
        {
            throw new ArgumentException($"'{dnsName}' is neither an IP address nor a valid DNS name.", nameof(dnsName));
        }
        return new Endpoint(null, dnsName.ToLowerInvariant(), port, null, null, null, null, weight, scheme);
    }

    /// <summary>The IP address, or null when the endpoint is a DNS name.</summary>
    public IPAddress? Address { get; }

    /// <summary>The IP address as text, or the DNS name.</summary>
    public string Host => DnsName ?? Address!.ToString(); // IPAddress keeps its text once made

    /// <summary>The port to connect to (the pod's target port).</summary>
    public int Port { get; }

    /// <summary><c>host:port</c> (<c>[v6]:port</c>), used in logs, metrics and traces.</summary>
    public string Authority => Connect().Authority;

    /// <summary>The socket endpoint to connect to.</summary>
    public EndPoint EndPoint => Connect().EndPoint;

    // The authority text and the socket endpoint, made together on the first use of either, with the details the
    // endpoint had (an endpoint that is never called never makes them).
    private sealed class Connection(Endpoint endpoint, Details? details)
    {
        public Details? Details { get; } = details;

        public string Authority { get; } = endpoint.MakeAuthority();

        public EndPoint EndPoint { get; } = endpoint.Address is not null ? new IPEndPoint(endpoint.Address, endpoint.Port) : new DnsEndPoint(endpoint.DnsName!, endpoint.Port);
    }

    // The only change of _rest is from null or the details to a connection holding them: a race makes equal copies, and
    // the first installed stays.
    private Connection Connect()
    {
        object? rest = Volatile.Read(ref _rest);
        if (rest is Connection connection)
        {
            return connection;
        }
        var made = new Connection(this, (Details?)rest);
        return Interlocked.CompareExchange(ref _rest, made, rest) is Connection won ? won : made;
    }

    private string MakeAuthority()
    {
        string port = Port.ToString(CultureInfo.InvariantCulture);
        return Address is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ? "[" + Host + "]:" + port : Host + ":" + port;
    }

    /// <summary>The EndpointSlice conditions.</summary>
    public EndpointConditions Conditions { get; }

    /// <summary>The pod's hostname (EndpointSlice <c>endpoints[].hostname</c>), if any.</summary>
    public string? Hostname => Rare?.Hostname;

    /// <summary>The zone (<c>topology.kubernetes.io/zone</c>) the endpoint runs in, if known.</summary>
    public string? Zone { get; }

    /// <summary>The node the endpoint runs on, if known.</summary>
    public string? NodeName { get; }

    /// <summary>A relative weight (SRV weight or configuration), at least 1.</summary>
    public int Weight => Rare?.Weight ?? 1;

    /// <summary>The scheme this endpoint must be called with (<c>http</c>/<c>https</c>), when its source says so.</summary>
    public string? Scheme => Rare?.Scheme;

    /// <summary>
    /// The zones this endpoint should serve, from the EndpointSlice topology hints (<c>hints.forZones[].name</c>);
    /// empty when the source gave none. Kube-proxy uses them only when every ready endpoint has hints.
    /// </summary>
    public IReadOnlyList<string> ZoneHints => Rare?.ZoneHints ?? [];

    /// <summary>
    /// The nodes this endpoint should serve, from the EndpointSlice topology hints (<c>hints.forNodes[].name</c>, set for
    /// <c>trafficDistribution: PreferSameNode</c>); empty when the source gave none. See <see cref="TopologyFilter"/>.
    /// </summary>
    public IReadOnlyList<string> NodeHints => Rare?.NodeHints ?? [];

    /// <summary>Returns a copy with other conditions.</summary>
    public Endpoint WithConditions(EndpointConditions conditions) => new(this, conditions);

    // A copy that shares the other's fields (its details object too), with other conditions.
    private Endpoint(Endpoint other, EndpointConditions conditions)
    {
        Address = other.Address;
        Port = other.Port;
        Conditions = conditions;
        Zone = other.Zone;
        NodeName = other.NodeName;
        _rest = other._rest; // the same host and port: the connection texts too
    }

    /// <summary>
    /// Parses <c>host:port</c>, <c>[v6]:port</c> or <c>scheme://host:port</c> (a trailing <c>/</c> is allowed).
    /// Without a port, the scheme's default port is used (80 for http, 443 for https). An address must be canonical and
    /// usable (<see cref="EndpointAddress"/>; loopback allowed): <c>010.0.0.1:80</c> or <c>0.0.0.0:80</c> is an error.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Endpoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the endpoint is empty";
            return false;
        }
        string trimmed = text.Trim();
        string? scheme = null;
        string authority = trimmed;
        int schemeEnd = trimmed.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd >= 0)
        {
            scheme = trimmed[..schemeEnd].ToLowerInvariant();
            if (scheme is not ("http" or "https"))
            {
                error = $"the scheme '{scheme}' is not supported (use http or https)";
                return false;
            }
            authority = trimmed[(schemeEnd + 3)..];
            if (authority.EndsWith('/'))
            {
                authority = authority[..^1];
            }
            if (authority.IndexOfAny(['/', '?', '#', '@']) >= 0)
            {
                error = "an endpoint may not have a path, query, fragment or user information";
                return false;
            }
        }

        string host;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']');
            if (close < 0)
            {
                error = "the IPv6 address has no closing ']'";
                return false;
            }
            host = authority[1..close];
            string after = authority[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    error = $"unexpected '{after}' after the IPv6 address";
                    return false;
                }
                portText = after[1..];
            }
        }
        else
        {
            int colon = authority.LastIndexOf(':');
            if (colon >= 0 && authority.IndexOf(':') != colon)
            {
                error = "an IPv6 address must be written in brackets, e.g. '[::1]:5001'";
                return false;
            }
            host = colon >= 0 ? authority[..colon] : authority;
            portText = colon >= 0 ? authority[(colon + 1)..] : null;
        }

        int port;
        if (portText is null)
        {
            if (scheme is null)
            {
                error = "the port is missing (write host:port, or give a scheme such as http:// for its default port)";
                return false;
            }
            port = scheme == "https" ? 443 : 80;
        }
        else if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port))
        {
            error = $"the port '{portText}' is not a number";
            return false;
        }
        if (port is < 1 or > 65535)
        {
            error = $"the port {port} is outside 1-65535";
            return false;
        }
        if (host.Length == 0)
        {
            error = "the host is empty";
            return false;
        }
        if (authority.StartsWith('[') || HostNames.LooksLikeAddress(host))
        {
            // Configuration is the operator's own: loopback is allowed, everything else follows the one address rule.
            if (!EndpointAddress.TryParse(host, allowLoopback: true, out IPAddress? address, out error))
            {
                return false;
            }
            endpoint = new Endpoint(address, port, scheme: scheme);
        }
        else if (Uri.CheckHostName(host) == UriHostNameType.Dns)
        {
            endpoint = new Endpoint(null, host.ToLowerInvariant(), port, null, null, null, null, 1, scheme);
        }
        else
        {
            error = $"'{host}' is neither an IP address nor a valid DNS name";
            return false;
        }
        error = null;
        return true;
    }

    /// <summary>Parses like <see cref="TryParse"/>, throwing <see cref="FormatException"/> naming the input.</summary>
    public static Endpoint Parse(string text) =>
        TryParse(text, out Endpoint? endpoint, out string? error) ? endpoint : throw new FormatException($"Invalid endpoint '{text}': {error}.");

    /// <summary>True when both denote the same host and port (the identity used to merge and diff endpoint lists).</summary>
    public bool SameAddress(Endpoint other) =>
        Port == other.Port && (Address is not null ? Address.Equals(other.Address) : other.Address is null && string.Equals(DnsName, other.DnsName, StringComparison.Ordinal));

    /// <summary>The hash of the host and port, consistent with <see cref="SameAddress"/>.</summary>
    private int AddressHash() => HashCode.Combine(Address?.GetHashCode() ?? StringComparer.Ordinal.GetHashCode(DnsName!), Port);

    /// <summary>Value equality over every field.</summary>
    public bool Equals(Endpoint? other) =>
        ReferenceEquals(this, other) || other is not null && SameAddress(other) && Conditions == other.Conditions && Weight == other.Weight &&
        string.Equals(Hostname, other.Hostname, StringComparison.Ordinal) && string.Equals(Zone, other.Zone, StringComparison.Ordinal) &&
        string.Equals(NodeName, other.NodeName, StringComparison.Ordinal) && string.Equals(Scheme, other.Scheme, StringComparison.Ordinal) &&
        ZoneHints.SequenceEqual(other.ZoneHints, StringComparer.Ordinal) && NodeHints.SequenceEqual(other.NodeHints, StringComparer.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Endpoint);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(AddressHash(), Conditions);

    /// <summary>Returns <see cref="Authority"/>, with the scheme when one is set.</summary>
    public override string ToString() => Scheme is null ? Authority : Scheme + "://" + Authority;

    private sealed class AddressIdentity : IEqualityComparer<Endpoint>
    {
        public bool Equals(Endpoint? x, Endpoint? y) => ReferenceEquals(x, y) || x is not null && y is not null && x.SameAddress(y);

        public int GetHashCode(Endpoint obj) => obj.AddressHash();
    }
}
