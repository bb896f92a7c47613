using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace ClientLb.Agent.Validation;

/// <summary>Strict address checks: only canonical unicast IPv4/IPv6 text becomes part of a rule.</summary>
internal static class AddressRules
{
    /// <summary>
    /// Parses a VIP as the API spells it. Stricter than <see cref="IPAddress.TryParse(string, out IPAddress)"/>: IPv4 must be a
    /// dotted quad of decimal octets (no <c>10.1</c>, <c>0x0a000001</c> or leading zeros), IPv6 may carry no zone.
    /// <paramref name="allowLoopback4"/> admits 127.0.0.0/8 (sidecar mode only, see <see cref="IsLoopbackVip"/>); <c>::1</c> never.
    /// </summary>
    public static bool TryParseVip(string text, bool allowLoopback4, [NotNullWhen(true)] out IPAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (text.Length is 0 or > 45)
        {
            error = $"the cluster IP '{NameRules.Display(text)}' is not an IP address";
            return false;
        }
        foreach (char c in text)
        {
            if (!(char.IsAsciiHexDigit(c) || c is '.' or ':'))
            {
                error = $"the cluster IP '{NameRules.Display(text)}' is not an IP address";
                return false;
            }
        }
        if (!IPAddress.TryParse(text, out IPAddress? parsed) ||
            (parsed.AddressFamily == AddressFamily.InterNetwork && !string.Equals(parsed.ToString(), text, StringComparison.Ordinal)))
        {
            error = $"the cluster IP '{NameRules.Display(text)}' is not a canonical IPv4 or IPv6 address";
            return false;
        }
        if (IsLoopbackVip(parsed))
        {
            error = allowLoopback4 ? null : $"the cluster IP {parsed} is a loopback address (127.0.0.0/8 VIPs are accepted in sidecar mode only)";
        }
        else
        {
            error = CheckUnicast(parsed, "cluster IP");
        }
        if (error is not null)
        {
            return false;
        }
        address = parsed;
        return true;
    }

    /// <summary>
    /// Whether <paramref name="address"/> is in 127.0.0.0/8. Such a VIP works only in the namespace the agent programs
    /// for itself (sidecar mode): connections to it leave with a loopback source, which needs <c>route_localnet</c> and
    /// the masquerade rule for <c>ct status dnat</c> traffic from 127.0.0.0/8, as kube-proxy does for localhost NodePorts.
    /// </summary>
    public static bool IsLoopbackVip(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes()[0] == 127;

    /// <summary>Null when <paramref name="address"/> may be a VIP or a DNAT target; otherwise why not.</summary>
    public static string? CheckUnicast(IPAddress address, string what)
    {
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            return $"the {what} {address} is neither IPv4 nor IPv6";
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && (address.ScopeId != 0 || address.IsIPv4MappedToIPv6))
        {
            return $"the {what} {address} is an IPv4-mapped or scoped IPv6 address";
        }
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return $"the {what} {address} is unspecified or broadcast";
        }
        if (IPAddress.IsLoopback(address))
        {
            return $"the {what} {address} is a loopback address";
        }
        byte[] bytes = address.GetAddressBytes();
        bool multicast = address.AddressFamily == AddressFamily.InterNetwork ? bytes[0] >= 224 : bytes[0] == 0xff;
        bool linkLocal = address.AddressFamily == AddressFamily.InterNetwork ? bytes[0] == 169 && bytes[1] == 254 : address.IsIPv6LinkLocal;
        if (multicast)
        {
            return $"the {what} {address} is a multicast or reserved address";
        }
        if (linkLocal)
        {
            return $"the {what} {address} is a link-local address";
        }
        return null;
    }
}
