using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ClientLb.Endpoints;

/// <summary>
/// The one address rule of ClientLb, used by every source (configuration, DNS, Kubernetes), the CLI and the agent:
/// an address is read only in its canonical text (what the Kubernetes API accepts) and used only when it can be a
/// backend. Lenient parsers read <c>010.0.0.1</c> as 8.0.0.1 (octal) and <c>10.1</c> as 10.0.0.1; here both are errors.
/// </summary>
public static class EndpointAddress
{
    /// <summary>The longest canonical IPv6 text (eight groups of four hex digits and seven colons).</summary>
    private const int MaxIPv6TextLength = 39;

    /// <summary>
    /// Parses <paramref name="text"/> as canonical address text: IPv4 as a dotted quad of decimal octets without
    /// leading zeros, IPv6 in RFC 5952 form (lowercase, no leading zeros in a group, the longest run of two or more
    /// zero groups compressed, the first on a tie), with no zone and no embedded IPv4. Says nothing about whether the
    /// address may be used; see <see cref="CheckUsable"/>.
    /// </summary>
    public static bool TryParseCanonical(string? text, [NotNullWhen(true)] out IPAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "the address is empty";
            return false;
        }
        if (text.Contains(':', StringComparison.Ordinal))
        {
            if (text.Length <= 64 && IPAddress.TryParse(text, out IPAddress? lenient) && lenient.AddressFamily == AddressFamily.InterNetworkV6 && lenient.ScopeId == 0)
            {
                if (lenient.IsIPv4MappedToIPv6)
                {
                    error = $"'{Display(text)}' is an IPv4-mapped IPv6 address (use the IPv4 address itself)";
                    return false;
                }
                string canonical = FormatIPv6(lenient);
                if (!string.Equals(canonical, text, StringComparison.Ordinal))
                {
                    error = $"'{Display(text)}' is not in canonical IPv6 form (RFC 5952: {canonical})";
                    return false;
                }
                address = lenient;
                error = null;
                return true;
            }
            error = $"'{Display(text)}' is not an IPv6 address";
            return false;
        }
        if (TryParseDottedQuad(text, out uint value))
        {
            address = new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
            error = null;
            return true;
        }
        error = text.Length <= 64 && IPAddress.TryParse(text, out IPAddress? read) && read.AddressFamily == AddressFamily.InterNetwork
            ? $"'{Display(text)}' is not a canonical dotted-quad IPv4 address (a lenient parser reads it as {read})"
            : $"'{Display(text)}' is not an IP address";
        return false;
    }

    /// <summary>
    /// Null when <paramref name="address"/> may be a backend; otherwise why not. Refused: the unspecified addresses
    /// (0.0.0.0/8, <c>::</c>), broadcast and reserved (240.0.0.0/4), multicast (224.0.0.0/4, ff00::/8), link-local
    /// (169.254.0.0/16 with the cloud metadata address 169.254.169.254, fe80::/10), IPv4-mapped and scoped IPv6, and
    /// loopback (127.0.0.0/8, <c>::1</c>) unless <paramref name="allowLoopback"/>.
    /// </summary>
    public static string? CheckUsable(IPAddress address, bool allowLoopback)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int length))
        {
            return $"{address} is neither IPv4 nor IPv6";
        }
        if (address.AddressFamily == AddressFamily.InterNetwork && length == 4)
        {
            return bytes[0] switch
            {
                0 => $"{address} is an unspecified ('this network') address",
                127 when !allowLoopback => $"{address} is a loopback address (loopback endpoints are allowed only when the source's options allow them)",
                169 when bytes[1] == 254 => address.Equals(MetadataAddress)
                    ? $"{address} is the link-local cloud metadata address"
                    : $"{address} is a link-local address",
                >= 240 => address.Equals(IPAddress.Broadcast) ? $"{address} is the broadcast address" : $"{address} is a reserved address (240.0.0.0/4)",
                >= 224 => $"{address} is a multicast address",
                _ => null,
            };
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && length == 16)
        {
            if (address.ScopeId != 0)
            {
                return $"{address} is a scoped IPv6 address";
            }
            if (address.IsIPv4MappedToIPv6)
            {
                return $"{address} is an IPv4-mapped IPv6 address";
            }
            if (address.Equals(IPAddress.IPv6Any))
            {
                return $"{address} is the unspecified address";
            }
            if (address.Equals(IPAddress.IPv6Loopback))
            {
                return allowLoopback ? null : $"{address} is a loopback address (loopback endpoints are allowed only when the source's options allow them)";
            }
            if (bytes[0] == 0xff)
            {
                return $"{address} is a multicast address";
            }
            if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80)
            {
                return $"{address} is a link-local address";
            }
            return null;
        }
        return $"{address} is neither IPv4 nor IPv6";
    }

    /// <summary>
    /// Parses canonical text (<see cref="TryParseCanonical"/>) of an address that may be a backend (<see cref="CheckUsable"/>).
    /// </summary>
    public static bool TryParse(string? text, bool allowLoopback, [NotNullWhen(true)] out IPAddress? address, [NotNullWhen(false)] out string? error)
    {
        if (!TryParseCanonical(text, out address, out error))
        {
            return false;
        }
        error = CheckUsable(address, allowLoopback);
        if (error is null)
        {
            return true;
        }
        address = null;
        return false;
    }

    /// <summary>The RFC 5952 text of an IPv6 address (the one form <see cref="TryParseCanonical"/> accepts).</summary>
    public static string FormatIPv6(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || !address.TryWriteBytes(bytes, out _))
        {
            throw new ArgumentException($"{address} is not an IPv6 address.", nameof(address));
        }
        Span<ushort> groups = stackalloc ushort[8];
        for (int i = 0; i < 8; i++)
        {
            groups[i] = (ushort)((bytes[2 * i] << 8) | bytes[(2 * i) + 1]);
        }
        int bestStart = -1, bestLength = 0;
        for (int i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }
            int start = i;
            while (i < 8 && groups[i] == 0)
            {
                i++;
            }
            if (i - start > bestLength)
            {
                bestStart = start;
                bestLength = i - start;
            }
        }
        if (bestLength < 2)
        {
            bestStart = -1;
        }
        var text = new System.Text.StringBuilder(MaxIPv6TextLength);
        for (int i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                text.Append("::");
                i += bestLength - 1;
                continue;
            }
            if (i > 0 && i != bestStart + bestLength)
            {
                text.Append(':');
            }
            text.Append(groups[i].ToString("x", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    /// <summary>Input text as it may appear in a message: control characters escaped, cut at 64 characters.</summary>
    public static string Display(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var shown = new System.Text.StringBuilder(Math.Min(text.Length, 64) + 4);
        foreach (char c in text.Length > 64 ? text.AsSpan(0, 64) : text.AsSpan())
        {
            if (char.IsControl(c) || c > '~')
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                shown.Append(c);
            }
        }
        if (text.Length > 64)
        {
            shown.Append(CultureInfo.InvariantCulture, $"... ({text.Length} characters)");
        }
        return shown.ToString();
    }

    private static readonly IPAddress MetadataAddress = new([169, 254, 169, 254]);

    private static bool TryParseDottedQuad(string text, out uint value)
    {
        value = 0;
        int octets = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            int octet = 0;
            while (i < text.Length && char.IsAsciiDigit(text[i]) && i - start < 3)
            {
                octet = (octet * 10) + (text[i] - '0');
                i++;
            }
            int digits = i - start;
            if (digits == 0 || octet > 255 || (digits > 1 && text[start] == '0'))
            {
                return false;
            }
            value = (value << 8) | (uint)octet;
            octets++;
            if (octets == 4)
            {
                return i == text.Length;
            }
            if (i >= text.Length || text[i] != '.')
            {
                return false;
            }
            i++;
        }
    }
}
