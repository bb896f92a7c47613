namespace ClientLb.Kubernetes.Node;

/// <summary>Decides whether the holder of a bearer token may follow a Service through the relay.</summary>
public interface IRelayAuthorizer
{
    /// <summary>Null when allowed; else why not (names the token's lack, never the token).</summary>
    /// <exception cref="RelayAuthorizationUnavailableException">The decision cannot be made now (the API server is unreachable).</exception>
    Task<string?> CheckAsync(string token, string ns, string service, CancellationToken cancellationToken);
}

/// <summary>The relay cannot decide whether a token may read a Service (the API server did not answer).</summary>
public sealed class RelayAuthorizationUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RelayAuthorizationUnavailableException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public RelayAuthorizationUnavailableException()
        : this("The relay cannot check the token now.", null)
    {
    }

    /// <summary>Creates the exception.</summary>
    public RelayAuthorizationUnavailableException(string message)
        : this(message, null)
    {
    }
}
