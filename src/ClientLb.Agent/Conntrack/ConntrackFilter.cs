using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Conntrack;

/// <summary>
/// Conntrack entries to delete: those whose original destination is <see cref="Vip"/>:<see cref="Port"/> and, when
/// <see cref="Endpoint"/> is set, that were translated to that endpoint (reply source).
/// </summary>
/// <param name="Protocol">UDP or SCTP (TCP entries need no cleanup: a dead TCP peer resets or times out).</param>
/// <param name="Vip">The service VIP.</param>
/// <param name="Port">The service port.</param>
/// <param name="Endpoint">The removed endpoint's address, or null for every entry of the VIP port.</param>
/// <param name="EndpointPort">The removed endpoint's target port, with <paramref name="Endpoint"/>.</param>
public sealed record ConntrackFilter(ServiceProtocol Protocol, IPAddress Vip, int Port, IPAddress? Endpoint = null, int? EndpointPort = null)
{
    /// <summary>The arguments of Debian's <c>conntrack -D</c> for this filter.</summary>
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string>
        {
            "-D", "-f", Vip.AddressFamily == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4",
            "-p", ServiceProtocols.Keyword(Protocol),
            "--orig-dst", Vip.ToString(), "--orig-port-dst", Port.ToString(CultureInfo.InvariantCulture),
        };
        if (Endpoint is not null)
        {
            args.Add("--reply-src");
            args.Add(Endpoint.ToString());
            if (EndpointPort is int endpointPort)
            {
                args.Add("--reply-port-src");
                args.Add(endpointPort.ToString(CultureInfo.InvariantCulture));
            }
        }
        return args;
    }

    /// <inheritdoc />
    public override string ToString() => Endpoint is null
        ? $"{ServiceProtocols.Keyword(Protocol)} {Vip}:{Port}"
        : $"{ServiceProtocols.Keyword(Protocol)} {Vip}:{Port} -> {Endpoint}:{EndpointPort}";
}
