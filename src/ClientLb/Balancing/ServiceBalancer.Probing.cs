using System.Net.Sockets;
using ClientLb.Balancing.Health;
using ClientLb.Diagnostics;

namespace ClientLb.Balancing;

// Ejected endpoints are probed, so one that comes back (a restarted pod) returns as soon as it answers instead of after
// its whole ejection time (grpc-dotnet reconnects a subchannel in under a second; a 30 s ejection would lose that).
public sealed partial class ServiceBalancer
{
    private EndpointProber? _prober;

    /// <summary>
    /// How ejected endpoints are asked whether they serve again; null (the default) probes only endpoints ejected for
    /// connection failures, with a TCP connect. An integration with a health protocol installs its own (ClientLb.Grpc:
    /// grpc.health.v1 Check, where active checks are configured), which also probes endpoints ejected for server errors.
    /// </summary>
    public EndpointProber? Prober
    {
        get => Volatile.Read(ref _prober);
        set => Volatile.Write(ref _prober, value);
    }

    // Under _rebuildGate, right after an ejection.
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
        CancellationToken stopped = _stopped.Token;
        try
        {
            while (endpoint.IsEjected && !endpoint.IsRetired && !stopped.IsCancellationRequested)
            {
                await Task.Delay(interval, _timeProvider, stopped).ConfigureAwait(false);
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
        using var expiry = new CancellationTokenSource(timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopped, expiry.Token);
        try
        {
            return await prober(endpoint, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!stopped.IsCancellationRequested)
        {
            Log.ProbeFailed(_logger, Service.Id, endpoint.Endpoint.Authority, ex.Message);
            return false;
        }
    }

    private void ReturnProbed(BalancedEndpoint endpoint)
    {
        lock (_rebuildGate)
        {
            if (!endpoint.IsEjected || !IsIn(_eligible, endpoint) || Volatile.Read(ref _disposed) != 0)
            {
                return;
            }
            long now = _timeProvider.GetTimestamp();
            ReturnEndpoint(endpoint, now, _health);
            BuildPicker(now);
        }
    }

    private static async ValueTask<bool> ConnectProbe(BalancedEndpoint endpoint, CancellationToken cancellationToken)
    {
        System.Net.EndPoint target = endpoint.Endpoint.EndPoint;
        using var socket = target is System.Net.IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
