using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Api.PortForward;

/// <summary>
/// The kubelet's side of port-forward over SPDY (k8s.io/kubelet .../portforward/httpstream.go): the client opens
/// an error stream and a data stream per forwarded connection, both with headers streamType, port and requestID;
/// once both are there, the data stream is joined to a TCP connection to the pod's IP and port, and a failure is
/// written as text on the error stream. Both streams are finished when the pod side closes.
/// </summary>
internal sealed class PortForwardSession(SpdyFramer framer, IPAddress podIp, string pod, ILogger logger)
{
    private const uint RstProtocolError = 1;

    private sealed class DataStream(uint id)
    {
        public uint Id => id;
        public Channel<byte[]> Inbound { get; } = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public CancellationTokenSource Reset { get; } = new();
    }

    private sealed class Pair
    {
        public uint? ErrorStream;
        public DataStream? Data;
        public int Port;
        public bool Started;
    }

    private readonly Dictionary<string, Pair> _pairs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, DataStream> _dataStreams = new();
    private readonly List<Task> _forwards = [];

    public async Task RunAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            while (await framer.ReadFrameAsync(stop.Token) is { } frame)
            {
                if (!frame.IsControl)
                {
                    if (_dataStreams.TryGetValue(frame.StreamId, out DataStream? data))
                    {
                        if (frame.Payload.Length > 0)
                        {
                            data.Inbound.Writer.TryWrite(frame.Payload);
                        }

                        if (frame.Fin)
                        {
                            data.Inbound.Writer.TryComplete();
                        }
                    }
                    continue; // data on an error stream (the client only ever finishes it) or on a stream already done
                }
                switch (frame.Type)
                {
                    case SpdyFrame.SynStream:
                        await OpenStreamAsync(frame, stop.Token);
                        break;
                    case SpdyFrame.RstStream when frame.Payload.Length >= 4:
                        if (_dataStreams.TryRemove(BinaryPrimitives.ReadUInt32BigEndian(frame.Payload) & 0x7fffffff, out DataStream? reset))
                        {
                            reset.Reset.Cancel();
                        }

                        break;
                    case SpdyFrame.Ping when frame.Payload.Length >= 4:
                        await framer.WritePingAsync(BinaryPrimitives.ReadUInt32BigEndian(frame.Payload), stop.Token);
                        break;
                    case SpdyFrame.Headers:
                        framer.ReadHeadersFrame(frame);
                        break;
                    case SpdyFrame.GoAway:
                        return;
                    case SpdyFrame.Settings or SpdyFrame.WindowUpdate:
                        break; // spdystream does no flow control; neither does its peer here
                    default:
                        throw new SpdyProtocolException($"unexpected SPDY control frame type {frame.Type}");
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            foreach (DataStream d in _dataStreams.Values)
            {
                d.Reset.Cancel();
            }

            try { await Task.WhenAll(_forwards); }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException) { }
        }
    }

    private async Task OpenStreamAsync(SpdyFrame frame, CancellationToken ct)
    {
        (uint id, Dictionary<string, string>? headers) = framer.ReadSynStream(frame);
        string? type = headers.GetValueOrDefault("streamtype");
        if (type is not ("data" or "error") || !headers.TryGetValue("requestid", out string? requestId))
        {
            logger.LogWarning("port-forward to {Pod}: stream {Stream} refused: streamType \"{Type}\" and requestID \"{RequestId}\" are required", pod, id, type, headers.GetValueOrDefault("requestid"));
            await framer.WriteRstStreamAsync(id, RstProtocolError, ct);
            return;
        }
        await framer.WriteSynReplyAsync(id, ct);
        Pair pair = _pairs.TryGetValue(requestId, out Pair? existing) ? existing : _pairs[requestId] = new Pair();
        if (type == "error")
        {
            pair.ErrorStream = id;
        }
        else
        {
            pair.Data = new DataStream(id);
            _dataStreams[id] = pair.Data;
            if (frame.Fin)
            {
                pair.Data.Inbound.Writer.TryComplete();
            }
        }
        string? portText = headers.GetValueOrDefault("port");
        pair.Port = int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535 ? port : 0;
        if (pair is { Started: false, ErrorStream: { } errorStream, Data: { } dataStream })
        {
            pair.Started = true;
            _pairs.Remove(requestId);
            _forwards.Add(pair.Port == 0
                ? FailAsync(errorStream, dataStream, $"invalid port \"{portText}\": must be an integer between 1 and 65535", ct)
                : ForwardAsync(errorStream, dataStream, pair.Port, ct));
        }
    }

    private async Task ForwardAsync(uint errorStream, DataStream data, int port, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, data.Reset.Token);
        CancellationToken token = linked.Token;
        using var socket = new Socket(podIp.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(podIp, port), token);
        }
        catch (SocketException ex)
        {
            await FailAsync(errorStream, data, $"error forwarding port {port} to pod {pod}: dial tcp {podIp}:{port}: {ex.Message}", ct);
            return;
        }
        Task toPod = CopyToPodAsync(socket, data, token);
        byte[] buffer = new byte[32 * 1024];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, token)) > 0)
            {
                await framer.WriteDataAsync(data.Id, buffer.AsMemory(0, n), fin: false, token);
            }

            await framer.WriteDataAsync(data.Id, ReadOnlyMemory<byte>.Empty, fin: true, token);
            await framer.WriteDataAsync(errorStream, ReadOnlyMemory<byte>.Empty, fin: true, token);
        }
        catch (SocketException ex)
        {
            await FailAsync(errorStream, data, $"error forwarding port {port} to pod {pod}: {ex.Message}", ct);
        }
        catch (OperationCanceledException) when (data.Reset.IsCancellationRequested && !ct.IsCancellationRequested)
        {
        }
        finally
        {
            _dataStreams.TryRemove(data.Id, out _);
            await linked.CancelAsync();
            try { await toPod; } catch (Exception ex) when (ex is OperationCanceledException or SocketException) { }
        }
    }

    private static async Task CopyToPodAsync(Socket socket, DataStream data, CancellationToken ct)
    {
        await foreach (byte[] chunk in data.Inbound.Reader.ReadAllAsync(ct))
        {
            await socket.SendAsync(chunk, ct);
        }

        socket.Shutdown(SocketShutdown.Send); // the client finished its side
    }

    private async Task FailAsync(uint errorStream, DataStream data, string message, CancellationToken ct)
    {
        logger.LogInformation("port-forward: {Message}", message);
        _dataStreams.TryRemove(data.Id, out _);
        await framer.WriteDataAsync(errorStream, Encoding.UTF8.GetBytes(message), fin: true, ct);
        await framer.WriteDataAsync(data.Id, ReadOnlyMemory<byte>.Empty, fin: true, ct);
    }
}
