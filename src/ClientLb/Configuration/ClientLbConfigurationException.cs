namespace ClientLb.Configuration;

/// <summary>A configuration value is invalid; the message names the configuration path, the value and what is wrong.</summary>
public sealed class ClientLbConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClientLbConfigurationException(string path, string? value, string reason)
        : base(value is null ? $"Invalid configuration at '{path}': {reason}." : $"Invalid configuration at '{path}' ('{value}'): {reason}.")
    {
        Path = path;
        Value = value;
        Reason = reason;
    }

    /// <summary>The configuration path, e.g. <c>ClientLb:Services:payments:Endpoints:1</c>.</summary>
    public string Path { get; }

    /// <summary>The offending value, if any.</summary>
    public string? Value { get; }

    /// <summary>What is wrong.</summary>
    public string Reason { get; }
}
