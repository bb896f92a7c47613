using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using ClientLb.Agent;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Agent.State;
using ClientLb.Dns.Protocol;
using ClientLb.Endpoints;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Names;
using ClientLb.Registry;
using K8sEndpoint = ClientLb.Kubernetes.Model.Endpoint;

namespace ClientLb.Fuzz;

/// <summary>
/// The fuzz targets: each takes raw input, calls one parser of outside input, and throws only when the parser breaks
/// its contract: an exception other than the documented one, or a result that breaks an invariant (an address that is
/// not canonical, a name that does not parse back, a rule line an input could have injected).
/// </summary>
public static class Targets
{
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["dns"] = Dns,
        ["watch"] = Watch,
        ["kubeconfig"] = Kubeconfig,
        ["servicename"] = ServiceNameText,
        ["address"] = Address,
        ["nft"] = Nft,
    };

    /// <summary>The DNS message reader: <see cref="DnsFormatException"/> or a message whose records all print.</summary>
    public static void Dns(byte[] input)
    {
        DnsMessage message;
        try
        {
            message = DnsMessage.Decode(input);
        }
        catch (DnsFormatException)
        {
            return;
        }
        foreach (DnsRecord record in message.Answers.Concat(message.Authorities).Concat(message.Additionals))
        {
            _ = record.ToString();
        }
    }

    /// <summary>
    /// The watch event decoder and the slice mapping after it: <see cref="InvalidDataException"/>, or an event whose
    /// endpoints map to usable, canonical addresses only.
    /// </summary>
    public static void Watch(byte[] input)
    {
        WatchEvent<EndpointSlice> e;
        try
        {
            e = KubernetesApiClient.ParseEvent(new ReadOnlySequence<byte>(input), KubernetesJsonContext.Default.WatchEventEndpointSlice, "/fuzz");
        }
        catch (InvalidDataException)
        {
            return;
        }
        if (e.Object is not EndpointSlice slice)
        {
            return;
        }
        foreach (PortChoice choice in new[] { new PortChoice(null, 80), new PortChoice("http", null), new PortChoice("", null) })
        {
            foreach (Endpoints.Endpoint endpoint in EndpointMapper.MapSlice(slice, choice, allowLoopback: false, dropped: static (_, _) => { }))
            {
                Check(EndpointAddress.CheckUsable(endpoint.Address!, allowLoopback: false) is null, $"mapped an unusable address {endpoint.Address}");
            }
        }
    }

    /// <summary>
    /// The kubeconfig path: KubernetesClient's reader and configuration builder with ClientLb's additions
    /// (<see cref="KubernetesConnection.Load(Stream, string, string?, TimeProvider?)"/>): a <see cref="KubernetesConfigException"/>
    /// or a configuration with an absolute http(s) server URL.
    /// </summary>
    public static void Kubeconfig(byte[] input)
    {
        k8s.KubernetesClientConfiguration configuration;
        try
        {
            configuration = KubernetesConnection.Load(new MemoryStream(input, writable: false), "fuzz input");
        }
        catch (KubernetesConfigException)
        {
            return;
        }
        Check(Uri.TryCreate(configuration.Host, UriKind.Absolute, out Uri? server) && server.Scheme is "http" or "https", $"server {configuration.Host} is not an absolute http(s) URL");
    }

    /// <summary>The service name parser: an error, or a name whose <see cref="ServiceName.Id"/> and FQDN parse back to it.</summary>
    public static void ServiceNameText(byte[] input)
    {
        string text = Encoding.UTF8.GetString(input);
        if (!ServiceName.TryParse(text, null, out ServiceName? name, out string? error))
        {
            Check(error.Length > 0, "an error without a message");
            return;
        }
        ServiceName again = ServiceName.Parse(name.Id);
        Check(again.Equals(name), $"'{text}' parsed to {name.Id}, which parses to {again.Id}");
        ServiceName fqdn = ServiceName.Parse(name.PortName is string port ? $"_{port}._tcp.{name.Fqdn}" : name.Fqdn);
        Check(fqdn.Key == name.Key && fqdn.PortName == name.PortName, $"'{text}': the SRV/FQDN form of {name.Id} parses to {fqdn.Id}");
    }

    /// <summary>
    /// The address parser: an error, or an address whose text is exactly the canonical form the lenient parser agrees
    /// with; usability is decided without throwing.
    /// </summary>
    public static void Address(byte[] input)
    {
        string text = Encoding.UTF8.GetString(input);
        if (!EndpointAddress.TryParseCanonical(text, out IPAddress? address, out string? error))
        {
            // The input is quoted cut at 64 characters, control and non-ASCII characters escaped.
            Check(error.Length is > 0 and < 600 && !error.Any(char.IsControl), $"an error that is empty, too long or holds control characters: {error.Length} characters");
            return;
        }
        Check(IPAddress.Parse(text).Equals(address), $"'{text}' is not what IPAddress.Parse reads");
        string canonical = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? address.ToString() : EndpointAddress.FormatIPv6(address);
        Check(canonical == text, $"'{text}' accepted but its canonical form is '{canonical}'");
        _ = EndpointAddress.CheckUsable(address, allowLoopback: false);
        _ = EndpointAddress.TryParse(text, allowLoopback: true, out _, out _);
    }

    /// <summary>
    /// The agent's translation of a Service and its slice into nft statements. Input lines: namespace, name, cluster IPs
    /// (comma-separated), service ports (<c>name/protocol/port</c>, comma-separated), ClientIP affinity timeout, slice ports
    /// (<c>name/protocol/port</c>), then one endpoint per line (<c>address|ready|node|zone</c>). Never throws; every
    /// statement starts with an nft command and holds no input outside its validated form.
    /// </summary>
    public static void Nft(byte[] input)
    {
        string[] lines = Encoding.UTF8.GetString(input).Split('\n');
        string Line(int i) => i < lines.Length ? lines[i] : "";
        var service = new Service
        {
            Metadata = new ObjectMeta { Namespace = Line(0), Name = Line(1) },
            Spec = new ServiceSpec
            {
                ClusterIPs = [.. Line(2).Split(',')],
                Ports = [.. Line(3).Split(',').Select(ParsePort).Select(p => new ServicePort { Name = p.Name, Protocol = p.Protocol, Port = p.Port })],
                SessionAffinity = Line(4).Length > 0 ? "ClientIP" : null,
                SessionAffinityConfig = int.TryParse(Line(4), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int timeout)
                    ? new SessionAffinityConfig { ClientIP = new ClientIPConfig { TimeoutSeconds = timeout } } : null,
            },
        };
        var slice = new EndpointSlice
        {
            Metadata = new ObjectMeta { Name = Line(1) + "-fuzz", Namespace = Line(0) },
            AddressType = Line(5).Contains(':', StringComparison.Ordinal) ? "IPv6" : "IPv4",
            Ports = [.. Line(5).Split(',').Select(ParsePort).Select(p => new EndpointPort { Name = p.Name, Protocol = p.Protocol, Port = p.Port })],
            Endpoints = [.. lines.Skip(6).Select(line => line.Split('|')).Select(f => new K8sEndpoint
            {
                Address = f[0],
                Conditions = new ClientLb.Kubernetes.Model.EndpointConditions { Ready = f.Length < 2 || f[1] != "0" },
                NodeName = f.Length > 2 ? f[2] : null,
                Zone = f.Length > 3 ? f[3] : null,
            })],
        };
        var warnings = new List<string>();
        if (ServiceStateMapper.Map(new ServiceSlices(service.Metadata.Namespace ?? "", service.Metadata.Name ?? "", service, [slice], Synced: true), out _, warnings) is not { } state)
        {
            return;
        }
        foreach (AgentMode mode in new[] { AgentMode.Node, AgentMode.Sidecar })
        {
            // The fixed skeleton (base table and chains) does not depend on the input: leave it out of every run.
            PendingSync sync = new SyncPlanner(new ProgrammedState { SkeletonApplied = true }, mode, 1000).Plan([state], [], full: true);
            foreach (string statement in sync.Transactions.SelectMany(t => t.Split('\n')))
            {
                string trimmed = statement.Trim();
                Check(trimmed.Length == 0 || trimmed.StartsWith("add ", StringComparison.Ordinal) || trimmed.StartsWith("delete ", StringComparison.Ordinal)
                    || trimmed.StartsWith("flush ", StringComparison.Ordinal) || trimmed.StartsWith("table ", StringComparison.Ordinal)
                    || trimmed.StartsWith("destroy ", StringComparison.Ordinal) || trimmed.StartsWith('#') || trimmed is "}" or "{",
                    $"statement '{trimmed}' does not start with an nft command");
                // An injection would carry a whole input line with its ';' into a statement; short lines such as ";" occur in
                // any statement, so only lines long enough to be one of the input's own are looked for.
                Check(!lines.Any(l => l.Length >= 12 && l.Contains(';', StringComparison.Ordinal) && trimmed.Contains(l, StringComparison.Ordinal)),
                    $"an input line reached statement '{trimmed}'");
            }
        }
    }

    private static (string? Name, string? Protocol, int Port) ParsePort(string text)
    {
        string[] parts = text.Split('/');
        int port = parts.Length > 2 && int.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int p) ? p : 80;
        return (parts[0].Length > 0 ? parts[0] : null, parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null, port);
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("Fuzz invariant broken: " + what);
        }
    }
}
