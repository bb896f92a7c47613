using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ClientLb.Dns.Protocol;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Sandbox.Dns;

/// <summary>
/// The sandbox's cluster DNS: UDP and TCP on one loopback address and port, answering from the live store through
/// <see cref="ClusterDnsResolver"/>. A UDP answer larger than the client's EDNS buffer (512 bytes without EDNS) is
/// sent truncated with TC, so the client asks again over TCP.
/// </summary>
internal sealed partial class ClusterDnsServer : IAsyncDisposable
{
    private readonly ClusterDnsResolver _resolver;
    private readonly UdpClient _udp;
    private readonly TcpListener _tcp;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;

    /// <summary>Receives one CoreDNS-style log line per answered query (the kube-dns pod's log), or null.</summary>
    public Action<string>? QueryLog { get; set; }

    private ClusterDnsServer(ClusterDnsResolver resolver, UdpClient udp, TcpListener tcp, ILogger logger)
    {
        _resolver = resolver;
        _udp = udp;
        _tcp = tcp;
        _logger = logger;
        EndPoint = (IPEndPoint)udp.Client.LocalEndPoint!;
        _udpLoop = Task.Run(ServeUdpAsync);
        _tcpLoop = Task.Run(ServeTcpAsync);
    }

    /// <summary>Where the server listens (UDP and TCP).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Binds UDP and TCP on <paramref name="address"/>:<paramref name="port"/> (0 picks a port free for both).</summary>
    public static ClusterDnsServer Start(ObjectStore store, IPAddress address, int port, string clusterDomain, uint ttl, ILoggerFactory? loggers = null)
    {
        var resolver = new ClusterDnsResolver(store, clusterDomain, ttl);
        ILogger logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger("ClientLb.Sandbox.Dns");
        for (int attempt = 0; ; attempt++)
        {
            var udp = new UdpClient(new IPEndPoint(address, port));
            int bound = ((IPEndPoint)udp.Client.LocalEndPoint!).Port;
            var tcp = new TcpListener(address, bound);
            try
            {
                tcp.Start();
                return new ClusterDnsServer(resolver, udp, tcp, logger);
            }
            catch (SocketException) when (port == 0 && attempt < 20)
            {
                // The UDP port was free but its TCP twin is taken: try another.
                udp.Dispose();
            }
            catch
            {
                udp.Dispose();
                throw;
            }
        }
    }

    private async Task ServeUdpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try
            {
                received = await _udp.ReceiveAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            byte[]? reply = Respond(received.Buffer, received.RemoteEndPoint, udp: true);
            if (reply is not null)
            {
                try
                {
                    await _udp.SendAsync(reply, received.RemoteEndPoint, _stop.Token);
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }
        }
    }

    private async Task ServeTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _tcp.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeConnectionAsync(client);
        }
    }

    // RFC 1035 4.2.2 / RFC 7766: each message is preceded by its two-byte length; several may follow on one connection.
    private async Task ServeConnectionAsync(TcpClient client)
    {
        using (client)
        {
            NetworkStream stream = client.GetStream();
            byte[] lengthBuffer = new byte[2];
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    await stream.ReadExactlyAsync(lengthBuffer, _stop.Token);
                    byte[] query = new byte[BinaryPrimitives.ReadUInt16BigEndian(lengthBuffer)];
                    await stream.ReadExactlyAsync(query, _stop.Token);
                    byte[]? reply = Respond(query, client.Client.RemoteEndPoint, udp: false);
                    if (reply is null)
                    {
                        return;
                    }
                    byte[] framed = new byte[reply.Length + 2];
                    BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)reply.Length);
                    reply.CopyTo(framed, 2);
                    await stream.WriteAsync(framed, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private byte[]? Respond(byte[] packet, EndPoint? remote, bool udp)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        DnsMessage query;
        try
        {
            query = DnsMessage.Decode(packet);
        }
        catch (DnsFormatException ex)
        {
            LogMalformed(_logger, ex.Message);
            // Answer FORMERR when at least the ID can be read, as a real server does; otherwise stay silent.
            return DnsMessage.PeekId(packet) is ushort id
                ? new DnsMessage { Id = id, IsResponse = true, ResponseCode = DnsResponseCode.FormErr }.Encode()
                : null;
        }
        if (query.IsResponse)
        {
            return null;
        }
        DnsMessage answer = _resolver.Answer(query);
        int limit = query.Edns is { } edns ? Math.Max(512, (int)edns.UdpPayloadSize) : 512;
        byte[] reply = udp ? answer.EncodeTruncated(limit) : answer.Encode();
        if (QueryLog is { } log && query.Questions.Count > 0)
        {
            // CoreDNS's log plugin format: remote - id "TYPE CLASS name. proto size do bufsize" rcode flags size duration
            DnsQuestion q = query.Questions[0];
            string flags = string.Join(",", new[] { "qr", answer.IsAuthoritative ? "aa" : null, answer.RecursionDesired ? "rd" : null, reply.Length > 2 && (reply[2] & 0x02) != 0 ? "tc" : null }.OfType<string>());
            log(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"[INFO] {remote} - {query.Id} \"{q.Type} {q.Class} {q.Name.TrimEnd('.')}. {(udp ? "udp" : "tcp")} {packet.Length} {(query.Edns?.DnssecOk == true ? "true" : "false")} {limit}\" {answer.ResponseCode.ToString().ToUpperInvariant()} {flags} {reply.Length} {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:0.000000000}s"));
        }
        return reply;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Cluster DNS ignored a malformed query: {Reason}")]
    private static partial void LogMalformed(ILogger logger, string reason);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _udp.Dispose();
        _tcp.Stop();
        await Task.WhenAll(_udpLoop, _tcpLoop);
        _stop.Dispose();
    }
}
