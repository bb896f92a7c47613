namespace ClientLb.Agent.Interop;

/// <summary>nftables refused a transaction (nothing of it was applied) or could not be reached.</summary>
public sealed class NftablesException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NftablesException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public NftablesException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
