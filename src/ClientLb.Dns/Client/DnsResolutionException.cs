namespace ClientLb.Dns.Client;

/// <summary>
/// A DNS lookup failed for a reason other than "the name does not exist": no server answered in time, every
/// server answered SERVFAIL/REFUSED, a CNAME chain looped. Sources keep their last good endpoints on this error.
/// </summary>
public sealed class DnsResolutionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DnsResolutionException(string message, IReadOnlyList<string>? attempts = null, Exception? inner = null)
        : base(attempts is { Count: > 0 } ? message + ": " + string.Join("; ", attempts) : message, inner)
    {
        Attempts = attempts ?? [];
    }

    /// <summary>What happened at each server and attempt, in order.</summary>
    public IReadOnlyList<string> Attempts { get; }
}
