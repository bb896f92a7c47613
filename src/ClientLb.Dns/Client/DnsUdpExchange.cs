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
                SocketReceiveFromResult received;
                try
                {
                    received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, anyRemote, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // On a loaded machine the timeout can be handled before the wake-up of a receive whose datagram is
                    // already queued: what the socket holds now arrived by the deadline, so it is read before giving up
                    // (an answer is used, anything else is named as what the server sent instead of a plain timeout).
                    if (ReadQueued(socket, buffer, anyRemote, server, id, question, onIgnored) is DnsMessage queued)
                    {
                        return queued;
                    }
                    throw;
                }
                if (Accept(buffer.AsSpan(0, received.ReceivedBytes), received.RemoteEndPoint, server, id, question, onIgnored) is DnsMessage response)
                {
                    return response;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the datagrams already queued on <paramref name="socket"/>, without waiting; returns the first that answers the query.</summary>
    private static DnsMessage? ReadQueued(Socket socket, byte[] buffer, EndPoint anyRemote, IPEndPoint server, ushort id, DnsQuestion question, Action<string> onIgnored)
    {
        while (socket.Available > 0)
        {
            EndPoint remote = anyRemote;
            int length = socket.ReceiveFrom(buffer, SocketFlags.None, ref remote);
            if (Accept(buffer.AsSpan(0, length), remote, server, id, question, onIgnored) is DnsMessage response)
            {
                return response;
            }
        }
        return null;
    }

    /// <summary>The response in <paramref name="data"/> when it answers the query; otherwise null, after telling <paramref name="onIgnored"/> why not.</summary>
    private static DnsMessage? Accept(ReadOnlySpan<byte> data, EndPoint remote, IPEndPoint server, ushort id, DnsQuestion question, Action<string> onIgnored)
    {
        if (!server.Equals(remote))
        {
            onIgnored($"a datagram from {remote}, not the server {server}");
            return null;
        }
        if (DnsMessage.PeekId(data) != id)
        {
            onIgnored($"a datagram of {data.Length} bytes from {server} without the query's ID {id}");
            return null;
        }
        DnsMessage response;
        try
        {
            response = DnsMessage.Decode(data);
        }
        catch (DnsFormatException ex)
        {
            onIgnored($"a malformed response from {server}: {ex.Message}");
            return null;
        }
        if (DnsResponseMatcher.Mismatch(response, id, question) is string why)
        {
            onIgnored($"a response from {server} where {why}");
            return null;
        }
        return response;
    }
}
