using System.Diagnostics.CodeAnalysis;

namespace ClientLb.Names;

/// <summary>
/// A parsed, validated logical service name: <c>svc</c>, <c>svc.ns</c>, <c>svc.ns.svc</c>,
/// <c>svc.ns.svc.cluster.local</c>, a URL such as <c>http://svc.ns:8080/path</c> or
/// <c>https+http://svc</c>, optionally with a named port (<c>_grpc.svc.ns</c> as in
/// Microsoft.Extensions.ServiceDiscovery, <c>svc.ns:grpc</c>, or the SRV name as DNS writes it,
/// <c>_grpc._tcp.svc.ns[.svc.cluster.local]</c>).
/// </summary>
/// <remarks>
/// Instances are immutable. Two names are equal when they select the same endpoints:
/// same service, namespace, and port selector (number or name); schemes do not take part.
/// </remarks>
public sealed class ServiceName : IEquatable<ServiceName>
{
    private static readonly string[] NoSchemes = [];

    private ServiceName(string name, string @namespace, string clusterDomain, int? port, string? portName, string[] schemes)
    {
        Name = name;
        Namespace = @namespace;
        ClusterDomain = clusterDomain;
        Port = port;
        PortName = portName;
        Schemes = schemes;
        Key = name + "." + @namespace;
        Id = portName is not null ? Key + ":" + portName : port is int p ? Key + ":" + p.ToString(System.Globalization.CultureInfo.InvariantCulture) : Key;
    }

    /// <summary>The service's name (a DNS-1035 label), e.g. <c>payment-service</c>.</summary>
    public string Name { get; }

    /// <summary>The namespace (a DNS-1123 label), e.g. <c>finance</c>.</summary>
    public string Namespace { get; }

    /// <summary>The cluster domain used to build <see cref="Fqdn"/>, e.g. <c>cluster.local</c>.</summary>
    public string ClusterDomain { get; }

    /// <summary>The explicit port number from the input, if any.</summary>
    public int? Port { get; }

    /// <summary>The named port from the input (<c>_name.svc</c> or <c>svc:name</c>), if any.</summary>
    public string? PortName { get; }

    /// <summary>The schemes in order of preference (<c>https+http://</c> gives <c>https</c>, <c>http</c>); empty when the input had no scheme.</summary>
    public IReadOnlyList<string> Schemes { get; }

    /// <summary><c>name.namespace</c>: identifies the service regardless of port.</summary>
    public string Key { get; }

    /// <summary><c>name.namespace[:port]</c>: identifies the service and the port selector; the registry key.</summary>
    public string Id { get; }

    /// <summary>The fully qualified DNS name, <c>name.namespace.svc.cluster-domain</c>.</summary>
    public string Fqdn => Key + ".svc." + ClusterDomain;

    /// <summary>Creates a name from already separated parts, validating each.</summary>
    /// <exception cref="ServiceNameFormatException">A part is not valid.</exception>
    public static ServiceName Create(string name, string @namespace, string clusterDomain = ServiceNameDefaults.DefaultClusterDomain, int? port = null, string? portName = null)
    {
        string input = name + "." + @namespace;
        string? error = ValidateServiceLabel(name) ?? ValidateNamespaceLabel(@namespace) ?? ValidateClusterDomain(clusterDomain)
            ?? (port is int p ? ValidatePort(p) : null) ?? (portName is not null ? ValidatePortName(portName) : null);
        if (error is not null)
        {
            throw new ServiceNameFormatException(input, error);
        }
        return new ServiceName(name, @namespace, clusterDomain, port, portName, NoSchemes);
    }

    /// <summary>Parses <paramref name="input"/>; see the type remarks for the accepted forms.</summary>
    /// <exception cref="ServiceNameFormatException">The input is not a valid service name; the message quotes it and says why.</exception>
    public static ServiceName Parse(string input, ServiceNameDefaults? defaults = null)
    {
        if (!TryParse(input, defaults, out ServiceName? result, out string? error))
        {
            throw new ServiceNameFormatException(input ?? "", error);
        }
        return result;
    }

    /// <summary>Parses <paramref name="input"/> without throwing; <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string? input, ServiceNameDefaults? defaults, [NotNullWhen(true)] out ServiceName? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        defaults ??= ServiceNameDefaults.Default;
        if (string.IsNullOrWhiteSpace(input))
        {
            error = "the name is empty";
            return false;
        }

        ReadOnlySpan<char> rest = input.AsSpan().Trim();
        string[] schemes = NoSchemes;
        int schemeEnd = rest.IndexOf("://", StringComparison.Ordinal);
        bool isUrl = schemeEnd >= 0;
        if (isUrl)
        {
            if (!TryParseSchemes(rest[..schemeEnd], out schemes, out error))
            {
                return false;
            }
            rest = rest[(schemeEnd + 3)..];
            int authorityEnd = rest.IndexOfAny('/', '?', '#');
            if (authorityEnd >= 0)
            {
                rest = rest[..authorityEnd];
            }
        }
        else if (rest.IndexOfAny('/', '?', '#') >= 0)
        {
            error = "a name without a scheme cannot have a path, query or fragment; use a URL such as 'http://svc.ns/path'";
            return false;
        }

        if (rest.Contains('@'))
        {
            error = "user information ('user@') is not supported in a service name";
            return false;
        }
        if (rest.StartsWith("["))
        {
            error = "an IP address literal is not a service name";
            return false;
        }

        int? port = null;
        string? portName = null;
        int colon = rest.IndexOf(':');
        if (colon >= 0)
        {
            ReadOnlySpan<char> portText = rest[(colon + 1)..];
            rest = rest[..colon];
            if (portText.IsEmpty)
            {
                error = "the port after ':' is empty";
                return false;
            }
            if (int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number))
            {
                if ((error = ValidatePort(number)) is not null)
                {
                    return false;
                }
                port = number;
            }
            else if (isUrl)
            {
                error = $"the port '{portText.ToString()}' is not a number (in a URL, name a port as 'scheme://_portname.svc')";
                return false;
            }
            else
            {
                portName = portText.ToString().ToLowerInvariant();
                if ((error = ValidatePortName(portName)) is not null)
                {
                    return false;
                }
            }
        }

        string host = rest.ToString().ToLowerInvariant().TrimEnd('.');
        if (host.Length == 0)
        {
            error = "the host part is empty";
            return false;
        }
        if (HostNames.LooksLikeAddress(host))
        {
            error = "an IP address literal is not a service name";
            return false;
        }

        string[] labels = host.Split('.');
        if (labels[0].StartsWith('_'))
        {
            if (portName is not null)
            {
                error = "the port is named twice ('_name.' prefix and ':name' suffix)";
                return false;
            }
            portName = labels[0][1..];
            if ((error = ValidatePortName(portName)) is not null)
            {
                return false;
            }
            labels = labels[1..];
            if (labels.Length > 0 && labels[0].StartsWith('_'))
            {
                // The SRV form as DNS writes it: _port._proto.svc.ns.svc.cluster.local (RFC 2782, Kubernetes DNS spec).
                if (labels[0] != "_tcp")
                {
                    error = $"the SRV protocol label '{labels[0]}' is not served: ClientLb connects over TCP ('_{portName}._tcp.svc.ns')";
                    return false;
                }
                labels = labels[1..];
            }
            if (labels.Length == 0)
            {
                error = "a named port prefix must be followed by a service name, e.g. '_grpc.payments' or '_grpc._tcp.payments.finance'";
                return false;
            }
        }

        string name = labels[0];
        string ns;
        switch (labels.Length)
        {
            case 1:
                ns = defaults.Namespace;
                break;
            case 2:
                ns = labels[1];
                break;
            default:
                if (labels[2] != "svc")
                {
                    error = $"'{host}' is not a Kubernetes service name: expected svc, svc.ns, svc.ns.svc or svc.ns.svc.{defaults.ClusterDomain}";
                    return false;
                }
                ns = labels[1];
                if (labels.Length > 3)
                {
                    string domain = string.Join('.', labels, 3, labels.Length - 3);
                    if (!string.Equals(domain, defaults.ClusterDomain, StringComparison.Ordinal))
                    {
                        error = $"the cluster domain '{domain}' does not match the configured cluster domain '{defaults.ClusterDomain}'";
                        return false;
                    }
                }
                break;
        }

        if ((error = ValidateServiceLabel(name) ?? ValidateNamespaceLabel(ns)) is not null)
        {
            return false;
        }

        result = new ServiceName(name, ns, defaults.ClusterDomain, port, portName, schemes);
        return true;
    }

    private static bool TryParseSchemes(ReadOnlySpan<char> text, out string[] schemes, [NotNullWhen(false)] out string? error)
    {
        schemes = NoSchemes;
        if (text.IsEmpty)
        {
            error = "the scheme before '://' is empty";
            return false;
        }
        var list = new List<string>(2);
        foreach (Range range in text.Split('+'))
        {
            string scheme = text[range].ToString().ToLowerInvariant();
            if (scheme.Length == 0 || !char.IsAsciiLetter(scheme[0]) || !scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
            {
                error = $"'{scheme}' is not a valid URI scheme";
                return false;
            }
            if (!list.Contains(scheme))
            {
                list.Add(scheme);
            }
        }
        schemes = [.. list];
        error = null;
        return true;
    }

    internal static string? ValidateServiceLabel(string name)
    {
        if (name.Length == 0)
        {
            return "the service name is empty";
        }
        if (name.Length > 63)
        {
            return $"the service name '{name}' is longer than 63 characters";
        }
        if (!char.IsAsciiLetterLower(name[0]))
        {
            return $"the service name '{name}' must start with a lowercase letter (DNS-1035 label)";
        }
        return ValidateLabelBody(name, "service name", "DNS-1035 label");
    }

    internal static string? ValidateNamespaceLabel(string ns)
    {
        if (ns.Length == 0)
        {
            return "the namespace is empty";
        }
        if (ns.Length > 63)
        {
            return $"the namespace '{ns}' is longer than 63 characters";
        }
        if (!char.IsAsciiLetterLower(ns[0]) && !char.IsAsciiDigit(ns[0]))
        {
            return $"the namespace '{ns}' must start with a lowercase letter or digit (DNS-1123 label)";
        }
        return ValidateLabelBody(ns, "namespace", "DNS-1123 label");
    }

    private static string? ValidateClusterDomain(string domain)
    {
        if (domain.Length == 0 || domain.Split('.').Any(l => l.Length == 0 || ValidateNamespaceLabel(l) is not null))
        {
            return $"the cluster domain '{domain}' is not a valid DNS name";
        }
        return null;
    }

    private static string? ValidateLabelBody(string label, string what, string rule)
    {
        foreach (char c in label)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-')
            {
                return $"the {what} '{label}' contains '{c}'; only lowercase letters, digits and '-' are allowed ({rule})";
            }
        }
        if (label[^1] == '-')
        {
            return $"the {what} '{label}' must not end with '-' ({rule})";
        }
        return null;
    }

    internal static string? ValidatePort(int port) =>
        port is >= 1 and <= 65535 ? null : $"the port {port} is outside 1-65535";

    /// <summary>Validates an IANA service name as Kubernetes does for port names (at most 15 characters, lowercase letters, digits and single '-', at least one letter).</summary>
    internal static string? ValidatePortName(string portName)
    {
        if (portName.Length is 0 or > 15)
        {
            return $"the port name '{portName}' must be 1 to 15 characters";
        }
        if (!portName.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || portName[0] == '-' || portName[^1] == '-' || portName.Contains("--", StringComparison.Ordinal))
        {
            return $"the port name '{portName}' may hold only lowercase letters, digits and single inner '-'";
        }
        if (!portName.Any(char.IsAsciiLetterLower))
        {
            return $"the port name '{portName}' must contain at least one letter";
        }
        return null;
    }

    /// <inheritdoc />
    public bool Equals(ServiceName? other) => other is not null && string.Equals(Id, other.Id, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ServiceName);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Id);

    /// <summary>Returns <see cref="Id"/>.</summary>
    public override string ToString() => Id;
}
