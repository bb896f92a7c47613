using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Client;

/// <summary>
/// Sends one question to the configured name servers and returns the first usable response. Kept narrow so an
/// adapter to another DNS library (e.g. DnsClient.NET's <c>LookupClient</c>) can stand in for <see cref="DnsStubClient"/>.
/// </summary>
internal interface IDnsClient
{
    /// <summary>
    /// Asks <paramref name="question"/> (no search list applied). NXDOMAIN and empty answers are responses, not errors.
    /// </summary>
    /// <exception cref="DnsResolutionException">No server gave a usable response (timeouts, SERVFAIL, REFUSED...); the message lists each attempt.</exception>
    Task<DnsQueryResult> QueryAsync(DnsQuestion question, CancellationToken cancellationToken = default);
}
