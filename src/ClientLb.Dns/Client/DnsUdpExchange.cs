using System.Buffers;
using System.Net;
using System.Net.Sockets;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Client;

/// <summary>One UDP query/response exchange on a fresh socket.</summary>
internal static class DnsUdpExchange
{
    /// <summary>
    /// Sends <paramref name="query"/> and waits for a matching response, ignoring datagrams from other sources,
    /// with other IDs or questions, or that do not parse. Returns when one matches or the token is cancelled.
    /// </summary>
    public static async Task<DnsMessage> ExchangeAsync(IPEndPoint server, byte[] query, ushort id, DnsQuestion question, Action<string> onIgnored, CancellationToken cancellationToken)
    {
        // A fresh socket bound to port 0 gets a kernel-randomised ephemeral source port (Linux picks it at random in
        // ip_local_port_range), which together with the random ID is the RFC 5452 defence against spoofed answers.
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
        await socket.SendToAsync(query, SocketFlags.None, server, cancellationToken).ConfigureAwait(false);

        // Servers may send more than the advertised EDNS size; a full-size buffer avoids silently cut datagrams.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DnsMessageWriter.MaxMessageSize);
        try
        {
            EndPoint anyRemote = new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            while (true)
            {
                SocketReceiveFromResult received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, anyRemote, cancellationToken).ConfigureAwait(false);
                if (!server.Equals(received.RemoteEndPoint))
                {
                    onIgnored($"a datagram from {received.RemoteEndPoint}, not the server {server}");
                    continue;
                }
                ReadOnlySpan<byte> data = buffer.AsSpan(0, received.ReceivedBytes);
                if (DnsMessage.PeekId(data) != id)
                {
                    onIgnored($"a datagram of {data.Length} bytes from {server} without the query's ID {id}");
                    continue;
                }
                DnsMessage response;
                try
                {
                    response = DnsMessage.Decode(data);
                }
                catch (DnsFormatException ex)
                {
                    onIgnored($"a malformed response from {server}: {ex.Message}");
                    continue;
                }
                if (DnsResponseMatcher.Mismatch(response, id, question) is string why)
                {
                    onIgnored($"a response from {server} where {why}");
                    continue;
                }
                return response;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
