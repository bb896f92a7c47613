namespace ClientLb.Kubernetes.Node;

/// <summary>The node relay cannot be reached (no socket, the agent stopped, the stream broke); the API watch takes over.</summary>
public sealed class NodeRelayUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NodeRelayUnavailableException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NodeRelayUnavailableException()
        : this("The node relay is unavailable.")
    {
    }

    /// <summary>Creates the exception.</summary>
    public NodeRelayUnavailableException(string message)
        : this(message, null)
    {
    }
}
