using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Api.PortForward;

/// <summary>
/// The kubelet's plain websocket port-forward (subprotocol "v4.channel.k8s.io", ports in the query, as non-Go
/// clients such as @kubernetes/client-node use it): port i has data channel 2i and error channel 2i+1; every
/// message starts with its channel byte, and the first message on each channel from the server is the port as
/// two little-endian bytes. One TCP connection to the pod per port, for the life of the websocket.
/// </summary>
internal static class ChannelPortForward
{
    public const string Protocol = "v4.channel.k8s.io";

    public static async Task RunAsync(WebSocket socket, IPAddress podIp, string pod, IReadOnlyList<int> ports, ILogger logger, CancellationToken ct)
    {
        using var sendLock = new SemaphoreSlim(1, 1);
        async Task SendAsync(int channel, ReadOnlyMemory<byte> data)
        {
            byte[] message = new byte[1 + data.Length];
            message[0] = (byte)channel;
            data.CopyTo(message.AsMemory(1));
            await sendLock.WaitAsync(ct);
            try { await socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, ct); }
            finally { sendLock.Release(); }
        }

        var connections = new Socket?[ports.Count];
        var pumps = new List<Task>();
        try
        {
            for (int i = 0; i < ports.Count; i++)
            {
                byte[] port = new byte[2];
                BinaryPrimitives.WriteUInt16LittleEndian(port, (ushort)ports[i]);
                await SendAsync(2 * i, port);
                await SendAsync(2 * i + 1, port);
            }
            for (int i = 0; i < ports.Count; i++)
            {
                var connection = new Socket(podIp.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await connection.ConnectAsync(new IPEndPoint(podIp, ports[i]), ct);
                    connections[i] = connection;
                    int channel = 2 * i;
                    pumps.Add(Task.Run(async () =>
                    {
                        byte[] buffer = new byte[32 * 1024];
                        int n;
                        while ((n = await connection.ReceiveAsync(buffer, ct)) > 0)
                        {
                            await SendAsync(channel, buffer.AsMemory(0, n));
                        }
                    }, ct));
                }
                catch (SocketException ex)
                {
                    connection.Dispose();
                    string message = $"error forwarding port {ports[i]} to pod {pod}: dial tcp {podIp}:{ports[i]}: {ex.Message}";
                    logger.LogInformation("port-forward: {Message}", message);
                    await SendAsync(2 * i + 1, Encoding.UTF8.GetBytes(message));
                }
            }
            var allPodSidesDone = Task.WhenAll(pumps);
            Task reading = ReadFromClientAsync(socket, connections, ct);
            await Task.WhenAny(allPodSidesDone, reading);
            if (socket.State == WebSocketState.Open)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
            }
        }
        finally
        {
            foreach (Socket? c in connections)
            {
                c?.Dispose();
            }

            try { await Task.WhenAll(pumps); }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException or WebSocketException) { }
        }
    }

    /// <summary>Client messages: the channel byte, then data for that port's pod connection (error channels carry nothing inbound).</summary>
    private static async Task ReadFromClientAsync(WebSocket socket, Socket?[] connections, CancellationToken ct)
    {
        byte[] buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            message.SetLength(0);
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, ct);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            if (message.Length < 2)
            {
                continue;
            }

            Memory<byte> data = message.GetBuffer().AsMemory(0, (int)message.Length);
            byte channel = data.Span[0];
            if (channel % 2 == 0 && channel / 2 < connections.Length && connections[channel / 2] is { } connection)
            {
                await connection.SendAsync(data[1..], ct);
            }
        }
    }
}
