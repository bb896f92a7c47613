using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using ClientLb.Endpoints;

namespace ClientLb.Agent.Validation;

/// <summary>
/// The agent's use of the core's <see cref="EndpointAddress"/> rule: only canonical unicast text becomes part of a rule.
/// What the agent adds is where loopback is allowed: a 127.0.0.0/8 VIP in sidecar mode, never a loopback DNAT target.
/// </summary>
internal static class AddressRules
{
    /// <summary>
    /// Parses a VIP as the API spells it (<see cref="EndpointAddress.TryParseCanonical"/>). <paramref name="allowLoopback4"/>
    /// admits 127.0.0.0/8 (sidecar mode only, see <see cref="IsLoopbackVip"/>); <c>::1</c> never.
    /// </summary>
    public static bool TryParseVip(string text, bool allowLoopback4, [NotNullWhen(true)] out IPAddress? address, [NotNullWhen(false)] out string? error)
    {
        if (!EndpointAddress.TryParseCanonical(text, out IPAddress? parsed, out error))
        {
            address = null;
            error = text.Length == 0 ? "the cluster IP: " + error : "the cluster IP " + error;
            return false;
        }
        if (IsLoopbackVip(parsed) && !allowLoopback4)
        {
            address = null;
            error = $"the cluster IP {parsed} is a loopback address (127.0.0.0/8 VIPs are accepted in sidecar mode only)";
            return false;
        }
        if (EndpointAddress.CheckUsable(parsed, allowLoopback: IsLoopbackVip(parsed)) is string unusable)
        {
            address = null;
            error = "the cluster IP " + unusable;
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

    /// <summary>Null when <paramref name="address"/> may be a DNAT target; otherwise why not (loopback never: the kernel cannot DNAT to it from another namespace).</summary>
    public static string? CheckTarget(IPAddress address) =>
        EndpointAddress.CheckUsable(address, allowLoopback: false) is string unusable ? "the endpoint address " + unusable : null;
}
