using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ClientLb.Sandbox.Proxy;

/// <summary>
/// Listens on ClusterIP:port (UDP). Each client address gets a session: a socket connected to one ready endpoint that
/// carries the client's datagrams there and the replies back, until it has been idle for <see cref="IdleTimeout"/>.
/// </summary>
internal sealed class UdpPortProxy : IPortProxy
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);
    private readonly Socket _listener;
    private readonly Backends _backends;
    private readonly Action<string> _log;
    private readonly string _name;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<IPEndPoint, Session> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiving;
    private readonly ITimer _sweep;

    private sealed class Session(Socket socket, IPEndPoint backend)
    {
        public Socket Socket { get; } = socket;
        public IPEndPoint Backend { get; } = backend;
        public DateTimeOffset LastUsed { get; set; }
    }

    public UdpPortProxy(IPEndPoint at, Backends backends, string name, Action<string> log, TimeProvider time)
    {
        _backends = backends;
        _log = log;
        _name = name;
        _time = time;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try { _listener.Bind(at); }
        catch
        {
            _listener.Dispose();
            throw;
        }
        _receiving = Task.Run(ReceiveAsync);
        _sweep = time.CreateTimer(_ => Sweep(), null, IdleTimeout, IdleTimeout);
    }

    public Backends Backends => _backends;

    private async Task ReceiveAsync()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try { r = await _listener.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token); }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            var client = (IPEndPoint)r.RemoteEndPoint;
            Session? session = SessionFor(client);
            if (session is null)
            {
                _log($"{_name}: datagram from {client} dropped: the service has no ready endpoints");
                continue;
            }
            session.LastUsed = _time.GetUtcNow();
            try { await session.Socket.SendAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, _stop.Token); }
            catch (SocketException ex) { _log($"{_name}: datagram from {client} to {session.Backend} failed: {ex.Message}"); }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException) { return; }
        }
    }

    private Session? SessionFor(IPEndPoint client)
    {
        if (_sessions.TryGetValue(client, out Session? existing) && _backends.Ready.Contains(existing.Backend))
        {
            return existing;
        }

        if (existing is not null)
        {
            Close(client, existing);
        }

        if (_backends.Pick(client.Address, []) is not { } backend)
        {
            return null;
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Connect(backend);
        var session = new Session(socket, backend) { LastUsed = _time.GetUtcNow() };
        _sessions[client] = session;
        _ = RelayRepliesAsync(client, session);
        return session;
    }

    private async Task RelayRepliesAsync(IPEndPoint client, Session session)
    {
        byte[] buffer = new byte[65536];
        try
        {
            while (true)
            {
                int n = await session.Socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                session.LastUsed = _time.GetUtcNow();
                await _listener.SendToAsync(buffer.AsMemory(0, n), SocketFlags.None, client, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException) { }
        finally { Close(client, session); }
    }

    private void Sweep()
    {
        DateTimeOffset now = _time.GetUtcNow();
        foreach ((IPEndPoint? client, Session? session) in _sessions)
        {
            if (now - session.LastUsed >= IdleTimeout)
            {
                Close(client, session);
            }
        }
    }

    private void Close(IPEndPoint client, Session session)
    {
        _sessions.TryRemove(new KeyValuePair<IPEndPoint, Session>(client, session));
        session.Socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _sweep.DisposeAsync();
        _listener.Dispose();
        await _receiving;
        foreach ((IPEndPoint? client, Session? session) in _sessions)
        {
            Close(client, session);
        }

        _stop.Dispose();
    }
}

/// <summary>One listening Service port of the proxy.</summary>
internal interface IPortProxy : IAsyncDisposable
{
    Backends Backends { get; }
}
