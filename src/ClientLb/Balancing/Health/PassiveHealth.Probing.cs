using System.Net.Sockets;
using ClientLb.Diagnostics;

namespace ClientLb.Balancing.Health;

// Ejected endpoints are probed, so one that comes back (a restarted pod) returns as soon as it answers instead of after
// its whole ejection time (grpc-dotnet reconnects a subchannel in under a second; a 30 s ejection would lose that).
internal sealed partial class PassiveHealth
{
    private EndpointProber? _prober;

    /// <summary>
    /// How ejected endpoints are asked whether they serve again; null (the default) probes only endpoints ejected for
    /// connection failures, with a TCP connect.
    /// </summary>
    public EndpointProber? Prober
    {
        get => Volatile.Read(ref _prober);
        set => Volatile.Write(ref _prober, value);
    }

    // Under the gate, right after an ejection.
    private void StartProbing(BalancedEndpoint endpoint, HealthSettings health, string reason)
    {
        EndpointProber? prober = Prober;
        if (health.ProbeInterval <= TimeSpan.Zero || (prober is null && reason != "connection_failures") || !endpoint.TryStartProbing())
        {
            return;
        }
        _ = ProbeAsync(endpoint, prober ?? ConnectProbe, health.ProbeInterval, health.ProbeTimeout);
    }

    private async Task ProbeAsync(BalancedEndpoint endpoint, EndpointProber prober, TimeSpan interval, TimeSpan timeout)
    {
        CancellationToken stopped = _host.Stopped;
        try
        {
            while (endpoint.IsEjected && !endpoint.IsRetired && !stopped.IsCancellationRequested)
            {
                await Task.Delay(interval, _time, stopped).ConfigureAwait(false);
                if (!endpoint.IsEjected || endpoint.IsRetired)
                {
                    break;
                }
                if (await AnswersAsync(endpoint, prober, timeout, stopped).ConfigureAwait(false))
                {
                    ReturnProbed(endpoint);
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stopped.IsCancellationRequested)
        {
            // The balancer was released.
        }
        finally
        {
            endpoint.StopProbing();
        }
    }

    private async Task<bool> AnswersAsync(BalancedEndpoint endpoint, EndpointProber prober, TimeSpan timeout, CancellationToken stopped)
    {
        using var expiry = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopped, expiry.Token);
        try
        {
            return await prober(endpoint, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!stopped.IsCancellationRequested)
        {
            Log.ProbeFailed(_logger, _serviceId, endpoint.Endpoint.Authority, ex.Message);
            return false;
        }
    }

    private void ReturnProbed(BalancedEndpoint endpoint)
    {
        lock (_gate)
        {
            if (!endpoint.IsEjected || !SlotArrays.Contains(_host.Eligible, endpoint) || _host.Stopped.IsCancellationRequested)
            {
                return;
            }
            long now = _time.GetTimestamp();
            Return(endpoint, now, _settings);
            _host.RebuildPicker(now);
        }
    }

    private static async ValueTask<bool> ConnectProbe(BalancedEndpoint endpoint, CancellationToken cancellationToken)
    {
        System.Net.EndPoint target = endpoint.Endpoint.EndPoint;
        using Socket socket = target is System.Net.IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
