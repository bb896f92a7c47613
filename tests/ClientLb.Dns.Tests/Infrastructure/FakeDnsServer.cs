using System.Net;
using System.Net.Sockets;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Tests.Infrastructure;

/// <summary>
/// A scripted UDP "server" on a 127.54.x.y address for behaviours a real server will not show on demand:
/// silence, spoofed or malformed answers. The handler gets each query and a function to send raw bytes back.
/// </summary>
internal sealed class FakeDnsServer : IDisposable
{
    private static int _instances;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private int _queries;

    public FakeDnsServer(Func<FakeExchange, Task>? handler)
    {
        int n = Interlocked.Increment(ref _instances);
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(new IPAddress([127, 54, (byte)(Environment.ProcessId % 200 + 1), (byte)(n % 250 + 1)]), 0));
        Endpoint = (IPEndPoint)_socket.LocalEndPoint!;
        _ = Task.Run(() => LoopAsync(handler));
    }

    public IPEndPoint Endpoint { get; }

    public int Queries => Volatile.Read(ref _queries);

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
    }

    private async Task LoopAsync(Func<FakeExchange, Task>? handler)
    {
        byte[] buffer = new byte[65535];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Interlocked.Increment(ref _queries);
            DnsMessage query = DnsMessage.Decode(buffer.AsSpan(0, received.ReceivedBytes));
            EndPoint client = received.RemoteEndPoint;
            if (handler is not null)
            {
                await handler(new FakeExchange(query, (IPEndPoint)client, bytes => (Task)_socket.SendToAsync(bytes, SocketFlags.None, client)));
            }
        }
    }
}

/// <summary>One query received by a <see cref="FakeDnsServer"/>.</summary>
/// <param name="Query">The decoded query.</param>
/// <param name="Client">Where it came from.</param>
/// <param name="Reply">Sends raw bytes back from the server's address.</param>
internal sealed record FakeExchange(DnsMessage Query, IPEndPoint Client, Func<byte[], Task> Reply)
{
    /// <summary>A well-formed answer to the query with one A record.</summary>
    public byte[] Answer(string address, ushort? id = null, string? name = null) =>
        (DnsMessage.CreateResponse(Query) with
        {
            Id = id ?? Query.Id,
            Questions = name is null ? Query.Questions : [new DnsQuestion(name, Query.Questions[0].Type)],
            Answers = [new DnsARecord(name ?? Query.Questions[0].Name, 60, IPAddress.Parse(address))],
        }).Encode();
}
