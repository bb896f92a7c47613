using System.Net;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Client;

/// <summary>The transport a response arrived on.</summary>
internal enum DnsTransport
{
    /// <summary>UDP.</summary>
    Udp,

    /// <summary>TCP (after a truncated UDP response).</summary>
    Tcp,
}

/// <summary>A validated response and where it came from.</summary>
/// <param name="Response">The response message; its ID and question match the query.</param>
/// <param name="Server">The name server that answered.</param>
/// <param name="Transport">UDP, or TCP after truncation.</param>
internal sealed record DnsQueryResult(DnsMessage Response, IPEndPoint Server, DnsTransport Transport);
