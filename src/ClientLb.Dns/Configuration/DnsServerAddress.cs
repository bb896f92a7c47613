using System.Globalization;
using System.Net;
using ClientLb.Endpoints;

namespace ClientLb.Dns.Configuration;

/// <summary>Parses name server addresses given in options or on a command line: <c>IP</c>, <c>IP:port</c>, <c>[IPv6]:port</c>.</summary>
internal static class DnsServerAddress
{
    /// <summary>The standard DNS port.</summary>
    public const int DefaultPort = 53;

    /// <summary>
    /// Parses <paramref name="text"/>. The address must be canonical text (<see cref="EndpointAddress.TryParseCanonical"/>):
    /// <c>010.0.0.1</c> would otherwise ask 8.0.0.1.
    /// </summary>
    /// <exception cref="FormatException">The text is not an IP address with an optional port; the message quotes it.</exception>
    public static IPEndPoint Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new FormatException("A DNS server address is empty.");
        }
        string trimmed = text.Trim();
        string host;
        string? port = null;
        if (trimmed.StartsWith('['))
        {
            int close = trimmed.IndexOf(']');
            if (close < 0 || (close + 1 < trimmed.Length && trimmed[close + 1] != ':'))
            {
                throw new FormatException($"The DNS server '{text}' is not an IP address with an optional port ([IPv6]:port).");
            }
            host = trimmed[1..close];
            port = close + 1 < trimmed.Length ? trimmed[(close + 2)..] : null;
        }
        else if (trimmed.Count(static c => c == ':') == 1)
        {
            int colon = trimmed.IndexOf(':');
            host = trimmed[..colon];
            port = trimmed[(colon + 1)..];
        }
        else
        {
            host = trimmed; // IPv4 without a port, or a bare IPv6 address (colons, no brackets: no port)
        }
        if (!EndpointAddress.TryParseCanonical(host, out IPAddress? address, out string? error))
        {
            throw new FormatException($"The DNS server '{text}' is not an IP address: {error} (host names cannot be used: resolving them would need DNS).");
        }
        if (port is null)
        {
            return new IPEndPoint(address, DefaultPort);
        }
        if (port == "0")
        {
            throw new FormatException($"The DNS server '{text}' has the port 0; use 1-65535 or leave the port out for {DefaultPort}.");
        }
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
        {
            throw new FormatException($"The DNS server '{text}' has the port '{port}', which is not a number in 1-65535.");
        }
        return new IPEndPoint(address, p);
    }
}
