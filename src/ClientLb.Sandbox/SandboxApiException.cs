namespace ClientLb.Sandbox;

/// <summary>An API request made through <see cref="SandboxCluster"/>'s helpers failed, as it would over HTTP.</summary>
public sealed class SandboxApiException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SandboxApiException(int statusCode, string reason, string message, Exception? inner = null) : base(message, inner)
    {
        StatusCode = statusCode;
        Reason = reason;
    }

    /// <summary>The HTTP status code the API server would answer (404, 409, 422, ...).</summary>
    public int StatusCode { get; }

    /// <summary>The Status reason (NotFound, AlreadyExists, Conflict, Invalid, ...).</summary>
    public string Reason { get; }
}
