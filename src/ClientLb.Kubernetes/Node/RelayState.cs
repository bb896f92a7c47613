using ClientLb.Kubernetes.Watching;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Node;

/// <summary>What the relay's service instances share: the agent's views, the authorizer, and a count of streams per Service.</summary>
internal sealed class RelayState(KubernetesWatchManager views, IRelayAuthorizer authorizer, TimeSpan authorizationRecheck, TimeProvider time, ILogger logger)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _streams = new(StringComparer.Ordinal);

    public KubernetesWatchManager Views => views;

    public IRelayAuthorizer Authorizer => authorizer;

    /// <summary>How often an open stream's token is checked again.</summary>
    public TimeSpan AuthorizationRecheck => authorizationRecheck;

    public TimeProvider Time => time;

    public ILogger Logger => logger;

    public void StreamOpened(string service)
    {
        lock (_gate)
        {
            _streams[service] = _streams.GetValueOrDefault(service) + 1;
        }
    }

    public void StreamClosed(string service)
    {
        lock (_gate)
        {
            if (--_streams[service] == 0)
            {
                _streams.Remove(service);
            }
        }
    }

    public int StreamsOf(string service)
    {
        lock (_gate)
        {
            return _streams.GetValueOrDefault(service);
        }
    }
}
