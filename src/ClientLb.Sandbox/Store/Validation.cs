using System.Net;
using System.Text.RegularExpressions;

namespace ClientLb.Sandbox.Store;

/// <summary>The API server's name and label rules, with its error wording.</summary>
internal static partial class Validation
{
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex Dns1123LabelRx();
    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex Dns1035LabelRx();
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")] private static partial Regex Dns1123SubdomainRx();
    [GeneratedRegex("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")] private static partial Regex QualifiedPartRx();
    [GeneratedRegex("^[-a-z0-9]+$")] private static partial Regex IanaSvcNameRx();

    public static string? NameError(NameRule rule, string name) => rule switch
    {
        NameRule.Dns1123Label => Dns1123LabelError(name),
        NameRule.PathSegment => name.Length == 0 ? "name or generateName is required" : name is "." or ".." ? $"may not be '{name}'"
            : name.Contains('/') ? "may not contain '/'" : name.Contains('%') ? "may not contain '%'" : null,
        NameRule.Dns1035Label => name.Length > 63 ? "must be no more than 63 characters"
            : Dns1035LabelRx().IsMatch(name) ? null
            : "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        _ => name.Length > 253 ? "must be no more than 253 characters"
            : Dns1123SubdomainRx().IsMatch(name) ? null
            : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    };

    public static string? Dns1123LabelError(string name) =>
        name.Length > 63 ? "must be no more than 63 characters"
        : Dns1123LabelRx().IsMatch(name) ? null
        : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    public static string? LabelKeyError(string key)
    {
        if (key.Length == 0)
        {
            return "name part must be non-empty";
        }

        int slash = key.IndexOf('/');
        string name = key;
        if (slash >= 0)
        {
            string prefix = key[..slash];
            name = key[(slash + 1)..];
            if (prefix.Length == 0 || prefix.Length > 253 || !Dns1123SubdomainRx().IsMatch(prefix))
            {
                return "prefix part must be a lowercase RFC 1123 subdomain";
            }
        }
        if (name.Length == 0)
        {
            return "name part must be non-empty";
        }

        if (name.Length > 63)
        {
            return "name part must be no more than 63 characters";
        }

        return QualifiedPartRx().IsMatch(name) ? null
            : "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    }

    public static string? LabelValueError(string value) =>
        value.Length > 63 ? "must be no more than 63 characters"
        : QualifiedPartRx().IsMatch(value) ? null
        : "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

    /// <summary>A named port (IANA_SVC_NAME): at most 15 characters, lower case letters, digits and '-'.</summary>
    public static string? PortNameError(string name) =>
        name.Length is 0 or > 15 ? "must be no more than 15 characters"
        : !IanaSvcNameRx().IsMatch(name) ? "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
        : !name.Any(char.IsAsciiLetterLower) ? "must contain at least one letter (a-z)"
        : name.Contains("--", StringComparison.Ordinal) ? "must not contain consecutive hyphens"
        : name.StartsWith('-') || name.EndsWith('-') ? "must not begin or end with a hyphen" : null;

    /// <summary>
    /// The API server's IP rule for new objects (IsValidIP with strict, canonical parsing), through ClientLb's one address
    /// parser: null when <paramref name="text"/> is a canonical address of <paramref name="family"/> (any family when null).
    /// </summary>
    public static string? IpError(string text, System.Net.Sockets.AddressFamily? family = null)
    {
        if (!ClientLb.Endpoints.EndpointAddress.TryParseCanonical(text, out IPAddress? ip, out _))
        {
            return IPAddress.TryParse(text, out IPAddress? lenient) && (lenient.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || (lenient.ScopeId == 0 && !lenient.IsIPv4MappedToIPv6))
                ? $"must be in canonical form (\"{(lenient.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? lenient.ToString() : ClientLb.Endpoints.EndpointAddress.FormatIPv6(lenient))}\")"
                : "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
        }
        return family is null || ip.AddressFamily == family ? null
            : $"must be an {(family == System.Net.Sockets.AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address";
    }

    public static bool IsIPv4(string s) => IpError(s, System.Net.Sockets.AddressFamily.InterNetwork) is null;
}
