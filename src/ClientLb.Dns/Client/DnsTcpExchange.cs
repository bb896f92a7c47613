using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Client;

/// <summary>One TCP query/response exchange (RFC 1035 §4.2.2: each message is prefixed by its 16-bit length).</summary>
internal static class DnsTcpExchange
{
    public static async Task<DnsMessage> ExchangeAsync(IPEndPoint server, byte[] query, ushort id, DnsQuestion question, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);

        byte[] framed = new byte[query.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, checked((ushort)query.Length));
        query.CopyTo(framed, 2);
        await socket.SendAsync(framed, SocketFlags.None, cancellationToken).ConfigureAwait(false);

        byte[] prefix = new byte[2];
        await ReceiveExactlyAsync(socket, prefix, server, "the length prefix", cancellationToken).ConfigureAwait(false);
        int length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
        if (length < DnsMessage.HeaderSize)
        {
            throw new DnsResolutionException($"The TCP response from {server} announces {length} bytes, less than a DNS header");
        }
        byte[] body = new byte[length];
        await ReceiveExactlyAsync(socket, body, server, $"a {length}-byte response", cancellationToken).ConfigureAwait(false);

        // Over our own TCP connection a mismatch is a server fault, not spoofing: report it instead of waiting on.
        DnsMessage response = DnsMessage.Decode(body);
        if (DnsResponseMatcher.Mismatch(response, id, question) is string why)
        {
            throw new DnsResolutionException($"The TCP response from {server} does not answer the query: {why}");
        }
        return response;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, IPEndPoint server, string what, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new DnsResolutionException($"{server} closed the TCP connection after {read} bytes of {what}");
            }
            read += n;
        }
    }
}
