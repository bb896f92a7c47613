namespace ClientLb.Names;

/// <summary>A service name could not be parsed; the message quotes the input and says what is wrong.</summary>
public sealed class ServiceNameFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="input"/>.</summary>
    public ServiceNameFormatException(string input, string reason)
        : base($"Invalid service name '{input}': {reason}.")
    {
        Input = input;
        Reason = reason;
    }

    /// <summary>The text that failed to parse.</summary>
    public string Input { get; }

    /// <summary>What is wrong with it.</summary>
    public string Reason { get; }
}
