namespace ClientLb.Kubernetes;

/// <summary>
/// The node relay: the ClientLb agent on this node serves the Services and EndpointSlices it watches over a Unix domain
/// socket, so the pods of a node share its one API watch per resource instead of each opening its own.
/// </summary>
public sealed class NodeRelayOptions
{
    /// <summary>The socket the agent's relay listens on by default (the DaemonSet mounts <c>/var/run/clientlb</c> from the host).</summary>
    public const string DefaultSocketPath = "/var/run/clientlb/relay.sock";

    /// <summary>
    /// Whether the Kubernetes source tries the node relay first (default true). It does so only when the socket's
    /// directory exists (the pod mounts it), and falls back to its own API watch whenever the socket is absent or the
    /// agent does not answer, back again when the agent returns.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The relay's Unix domain socket (default <see cref="DefaultSocketPath"/>).</summary>
    public string SocketPath { get; set; } = DefaultSocketPath;

    /// <summary>
    /// The first delay before trying the relay again after it failed or while its socket is absent (default 1 s); doubled
    /// per failure in a row up to <see cref="MaxReconnectDelay"/>. The API watch serves meanwhile.
    /// </summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between two attempts to reach the relay (default 5 s).</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a stream may go without its first snapshot (default 5 s): an agent that accepts the call but does not
    /// answer (hung, overloaded) is treated as down and the API watch serves.
    /// </summary>
    public TimeSpan SnapshotTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether the node relay is to be tried: enabled, and the socket's directory exists (the pod mounts it).</summary>
    internal bool Applies => Enabled && Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(SocketPath)));
}
