using System.Net;
using System.Net.Sockets;
using ClientLb.Endpoints;

namespace ClientLb.Kubernetes.Model;

/// <summary>A <c>discovery.k8s.io/v1</c> EndpointSlice: a subset of a service's endpoints sharing one port list.</summary>
internal sealed class EndpointSlice
{
    /// <summary>The object metadata; the <c>kubernetes.io/service-name</c> label names the owning service.</summary>
    public ObjectMeta Metadata { get; set; } = new();

    /// <summary><c>IPv4</c>, <c>IPv6</c> or <c>FQDN</c>.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? AddressType { get; set; }

    /// <summary>The endpoints.</summary>
    public List<Endpoint>? Endpoints { get; set; }

    /// <summary>The ports every endpoint of this slice serves; the name matches the Service port's name.</summary>
    public List<EndpointPort>? Ports { get; set; }

    /// <summary>
    /// Shrinks a decoded slice that is about to be kept (a watch's cache holds every slice of every watched service):
    /// the endpoint list cut to its length, each canonical first address held parsed (<see cref="Endpoint.ParseAddress"/>),
    /// one shared conditions object per combination, zone and node names taken
    /// from <paramref name="names"/> (one string per distinct name), and of the labels only the two ClientLb reads
    /// (<see cref="ObjectMeta.CompactLabels"/>, the service name as <paramref name="serviceName"/>: the same value, one
    /// string shared with the Service and the cache). The slice is read-only afterwards.
    /// </summary>
    internal void Compact(Dictionary<string, string> names, string? serviceName = null)
    {
        Metadata.CompactLabels(serviceName);
        Endpoints?.TrimExcess();
        foreach (Endpoint endpoint in Endpoints ?? [])
        {
            if (endpoint.Conditions is EndpointConditions conditions)
            {
                endpoint.Conditions = EndpointConditions.Shared(conditions.Ready, conditions.Serving, conditions.Terminating);
            }
            endpoint.Zone = Intern(names, endpoint.Zone);
            endpoint.NodeName = Intern(names, endpoint.NodeName);
            endpoint.ParseAddress();
        }
    }

    private static string? Intern(Dictionary<string, string> names, string? name)
    {
        if (name is null)
        {
            return null;
        }
        ref string? kept = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(names, name, out _);
        return kept ??= name;
    }
}

/// <summary>
/// One endpoint of a slice (usually one pod). A watch keeps one per endpoint of every watched service, so what nearly
/// every endpoint has (its first address, conditions, node and zone) is held inline and the rest (further addresses, a
/// hostname, hints, an address list that cannot be used) in one object made only for an endpoint that has some; a kept
/// endpoint holds its address parsed, the one object its mapped endpoints share: one 56-byte object per endpoint
/// instead of a 64-byte one, an address array and an address text besides each mapped endpoint's address (issue 18).
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(EndpointJsonConverter))]
internal sealed class Endpoint
{
    private Rare? _rare;
    // The first address: its text as decoded (a string), or once kept and found canonical, parsed (an IPAddress).
    private object? _address;

    /// <summary>
    /// The first address, the one consumers use (the rest are fungible); null when the API listed none. Once held parsed
    /// (<see cref="ParseAddress"/>) its text is made again when asked for: the same, as only canonical text is parsed.
    /// </summary>
    public string? Address
    {
        get => _address switch
        {
            IPAddress parsed => parsed.AddressFamily == AddressFamily.InterNetworkV6 ? EndpointAddress.FormatIPv6(parsed) : parsed.ToString(),
            var text => (string?)text,
        };
        set => _address = value;
    }

    /// <summary>The first address parsed, when <see cref="ParseAddress"/> found its text canonical; null otherwise.</summary>
    public IPAddress? ParsedAddress => _address as IPAddress;

    /// <summary>
    /// Holds the first address parsed instead of its text when the text is canonical
    /// (<see cref="EndpointAddress.TryParseCanonical"/>): the endpoints mapped from it share that object, and the text is
    /// not kept twice. Whether it may be used is still the mapper's question (<see cref="EndpointAddress.CheckUsable"/>).
    /// </summary>
    internal void ParseAddress()
    {
        if (_address is string text && EndpointAddress.TryParseCanonical(text, out IPAddress? parsed, out _))
        {
            _address = parsed;
        }
    }

    /// <summary>The addresses after the first, as the API listed them; null when there are none.</summary>
    public string[]? OtherAddresses
    {
        get => _rare?.OtherAddresses;
        set => RareFor(value)?.OtherAddresses = value;
    }

    /// <summary>
    /// Why the API's address list cannot be used (<c>has addresses: null</c>, <c>has a null address</c>), for the watch's
    /// poison check (<see cref="Watching.ObjectChecks"/>); null when it can.
    /// </summary>
    public string? AddressProblem
    {
        get => _rare?.AddressProblem;
        set => RareFor(value)?.AddressProblem = value;
    }

    /// <summary>The conditions; a nil field has a defined meaning (see <see cref="ClientLb.Endpoints.EndpointConditions.FromApi"/>).</summary>
    public EndpointConditions? Conditions { get; set; }

    /// <summary>The pod's hostname.</summary>
    public string? Hostname
    {
        get => _rare?.Hostname;
        set => RareFor(value)?.Hostname = value;
    }

    /// <summary>The node hosting the endpoint.</summary>
    public string? NodeName { get; set; }

    /// <summary>The zone of the endpoint.</summary>
    public string? Zone { get; set; }

    /// <summary>Topology hints.</summary>
    public EndpointHints? Hints
    {
        get => _rare?.Hints;
        set => RareFor(value)?.Hints = value;
    }

    // The rare part to write a value into; null (nothing to write) when the value is null and there is none yet.
    private Rare? RareFor(object? value) => value is null ? _rare : _rare ??= new Rare();

    private sealed class Rare
    {
        public string[]? OtherAddresses { get; set; }

        public string? AddressProblem { get; set; }

        public string? Hostname { get; set; }

        public EndpointHints? Hints { get; set; }
    }

    /// <summary>The names of <see cref="EndpointHints.ForZones"/>; null when there are none.</summary>
    internal List<string>? ZoneHintNames() => Names(Hints?.ForZones?.Select(static z => z.Name));

    /// <summary>The names of <see cref="EndpointHints.ForNodes"/>; null when there are none.</summary>
    internal List<string>? NodeHintNames() => Names(Hints?.ForNodes?.Select(static n => n.Name));

    private static List<string>? Names(IEnumerable<string>? names) => names?.Where(static n => n.Length > 0).ToList() is { Count: > 0 } list ? list : null;
}

/// <summary>The ready/serving/terminating conditions; each may be unset.</summary>
internal sealed class EndpointConditions
{
    /// <summary>Ready for new traffic.</summary>
    public bool? Ready { get; set; }

    /// <summary>Passing readiness, terminating or not.</summary>
    public bool? Serving { get; set; }

    /// <summary>Shutting down.</summary>
    public bool? Terminating { get; set; }

    // Each of the three is unset, false or true: 27 combinations, each kept once for slices that are compacted.
    private static readonly EndpointConditions[] Combinations = [.. Enumerable.Range(0, 27).Select(static i => new EndpointConditions
    {
        Ready = Value(i % 3),
        Serving = Value(i / 3 % 3),
        Terminating = Value(i / 9),
    })];

    /// <summary>The shared, read-only instance with these values (see <see cref="EndpointSlice.Compact"/>).</summary>
    internal static EndpointConditions Shared(bool? ready, bool? serving, bool? terminating) =>
        Combinations[Index(ready) + 3 * Index(serving) + 9 * Index(terminating)];

    private static bool? Value(int index) => index switch { 0 => null, 1 => false, _ => true };

    private static int Index(bool? value) => value switch { null => 0, false => 1, true => 2 };
}

/// <summary>Topology hints of an endpoint, set by the EndpointSlice controller for the Service's <c>trafficDistribution</c>.</summary>
internal sealed class EndpointHints
{
    /// <summary>The zones this endpoint should serve.</summary>
    public List<ForZone>? ForZones { get; set; }

    /// <summary>The nodes this endpoint should serve (Kubernetes 1.33+, <c>trafficDistribution: PreferSameNode</c>).</summary>
    public List<ForNode>? ForNodes { get; set; }
}

/// <summary>A zone named in a hint.</summary>
internal sealed class ForZone
{
    /// <summary>The zone name.</summary>
    public string Name { get; set; } = "";
}

/// <summary>A node named in a hint.</summary>
internal sealed class ForNode
{
    /// <summary>The node name.</summary>
    public string Name { get; set; } = "";
}

/// <summary>A port of a slice: the pod's (target) port number, named after the Service port.</summary>
internal sealed class EndpointPort
{
    /// <summary>The Service port's name (empty or unset for a single unnamed port).</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? Name { get; set; }

    /// <summary>The port number the endpoints listen on; unset means "all ports" (not used by services).</summary>
    public int? Port { get; set; }

    /// <summary><c>TCP</c> (default), <c>UDP</c> or <c>SCTP</c>.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? Protocol { get; set; }

    /// <summary>The application protocol, e.g. <c>kubernetes.io/h2c</c>.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? AppProtocol { get; set; }
}
