using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Node;

namespace ClientLb.Agent.Relay;

/// <summary>Options of the agent's node relay (<c>clientlb agent --relay-socket PATH</c>).</summary>
public sealed class NodeRelayServerOptions
{
    /// <summary>The Unix domain socket to serve on (default <see cref="NodeRelayOptions.DefaultSocketPath"/>); a stale file there is replaced.</summary>
    public string SocketPath { get; set; } = NodeRelayOptions.DefaultSocketPath;

    /// <summary>How often an open stream's token is checked again (default 1 minute): a revoked right ends the stream.</summary>
    public TimeSpan AuthorizationRecheck { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Checks every option; the message names the one at fault.</summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(SocketPath))
        {
            throw new ArgumentException("NodeRelayServerOptions.SocketPath must name a Unix domain socket path.", nameof(SocketPath));
        }
        if (AuthorizationRecheck <= TimeSpan.Zero)
        {
            throw new ArgumentException($"NodeRelayServerOptions.AuthorizationRecheck must be positive (got {AuthorizationRecheck}).", nameof(AuthorizationRecheck));
        }
    }
}
