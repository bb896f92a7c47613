using System.Globalization;
using System.Net;

namespace ClientLb.Dns.Configuration;

/// <summary>Parses name server addresses given in options or on a command line: <c>IP</c>, <c>IP:port</c>, <c>[IPv6]:port</c>.</summary>
public static class DnsServerAddress
{
    /// <summary>The standard DNS port.</summary>
    public const int DefaultPort = 53;

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">The text is not an IP address with an optional port; the message quotes it.</exception>
    public static IPEndPoint Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new FormatException("A DNS server address is empty.");
        }
        string trimmed = text.Trim();
        // A bare IPv6 address has colons but no brackets: it has no port.
        if (IPAddress.TryParse(trimmed, out IPAddress? bare) && !trimmed.StartsWith('['))
        {
            return new IPEndPoint(bare, DefaultPort);
        }
        if (IPEndPoint.TryParse(trimmed, out IPEndPoint? endpoint))
        {
            if (endpoint.Port == 0 && trimmed.EndsWith(":0", StringComparison.Ordinal))
            {
                throw new FormatException($"The DNS server '{text}' has the port 0; use 1-65535 or leave the port out for {DefaultPort}.");
            }
            if (endpoint.Port == 0)
            {
                endpoint.Port = DefaultPort;
            }
            return endpoint;
        }
        int colon = trimmed.LastIndexOf(':');
        string host = colon > 0 ? trimmed[..colon].Trim('[', ']') : trimmed;
        string port = colon > 0 ? trimmed[(colon + 1)..] : "";
        if (!IPAddress.TryParse(host, out _))
        {
            throw new FormatException($"The DNS server '{text}' is not an IP address (host names cannot be used: resolving them would need DNS).");
        }
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
        {
            throw new FormatException($"The DNS server '{text}' has the port '{port}', which is not a number in 1-65535.");
        }
        return new IPEndPoint(IPAddress.Parse(host), p);
    }
}
