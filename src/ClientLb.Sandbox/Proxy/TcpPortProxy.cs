using System.Net;
using System.Net.Sockets;

namespace ClientLb.Sandbox.Proxy;

/// <summary>
/// Listens on ClusterIP:port (TCP) and splices each accepted connection to a ready endpoint. A refused endpoint is
/// skipped for the next one (as the userspace kube-proxy retried); with no endpoint left the client is reset.
/// </summary>
internal sealed class TcpPortProxy : IPortProxy
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    private readonly Socket _listener;
    private readonly Backends _backends;
    private readonly Action<string> _log;
    private readonly string _name;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public TcpPortProxy(IPEndPoint at, Backends backends, string name, Action<string> log)
    {
        _backends = backends;
        _log = log;
        _name = name;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(at);
            _listener.Listen(512);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
        _accepting = Task.Run(AcceptAsync);
    }

    public Backends Backends => _backends;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using Socket clientScope = client;
        var from = (IPEndPoint)client.RemoteEndPoint!;
        var tried = new List<IPEndPoint>();
        Socket? backend = null;
        while (backend is null && _backends.Pick(from.Address, tried) is { } target)
        {
            tried.Add(target);
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(ConnectTimeout);
            try
            {
                await s.ConnectAsync(target, timeout.Token);
                backend = s;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                s.Dispose();
                _log($"{_name}: connection from {from} could not reach endpoint {target}: {ex.Message}; trying the next endpoint");
            }
        }
        if (backend is null)
        {
            _log($"{_name}: connection from {from} rejected: the service has no ready endpoints{(tried.Count > 0 ? " that accept connections" : "")}");
            client.LingerState = new LingerOption(true, 0); // reset, as kube-proxy's REJECT rule answers
            return;
        }
        using Socket backendScope = backend;
        client.NoDelay = true;
        await Task.WhenAll(PipeAsync(client, backend), PipeAsync(backend, client));
    }

    /// <summary>Copies until end of stream, then half-closes the other side so the peer sees the end too.</summary>
    private async Task PipeAsync(Socket from, Socket to)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }

            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            try { to.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }
}
