namespace ClientLb.Dns.Protocol;

/// <summary>
/// A DNS message is malformed. The message names the field at fault and its byte offset, so a bad
/// packet from a server or a fuzzer can be located with a hex dump.
/// </summary>
internal sealed class DnsFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The field being read, e.g. <c>answer[2].rdata</c> or <c>question[0].name</c>.</param>
    /// <param name="offset">The byte offset in the message where the problem was found.</param>
    /// <param name="reason">What is wrong.</param>
    public DnsFormatException(string field, int offset, string reason)
        : base($"Malformed DNS message: {field} at offset {offset}: {reason}.")
    {
        Field = field;
        Offset = offset;
        Reason = reason;
    }

    /// <summary>The field being read when the problem was found.</summary>
    public string Field { get; }

    /// <summary>The byte offset in the message.</summary>
    public int Offset { get; }

    /// <summary>What is wrong.</summary>
    public string Reason { get; }
}
