namespace ClientLb.Names;

/// <summary>
/// Tells a host name from an attempt at an address literal, by the syntax of names: a service name must be a name, and an
/// endpoint given by name that is an address goes through the one address rule (<c>EndpointAddress</c>) instead.
/// </summary>
internal static class HostNames
{
    /// <summary>True when <paramref name="text"/> looks like an attempt at an IP address (digits, hex, dots, colons) rather than a DNS name.</summary>
    public static bool LooksLikeAddress(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return true;
        }
        // A DNS name's last label is never all digits (RFC 1123 §2.1 keeps names and dotted quads apart); 0x0a000001 is hex.
        string last = text[(text.LastIndexOf('.') + 1)..];
        return last.Length > 0 && (last.All(char.IsAsciiDigit) || (last.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && last.Length > 2 && last[2..].All(char.IsAsciiHexDigit)));
    }
}
