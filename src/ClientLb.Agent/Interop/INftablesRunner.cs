namespace ClientLb.Agent.Interop;

/// <summary>
/// Runs nftables command text. Each <see cref="RunAsync"/> call is one atomic kernel transaction: all of it applies or
/// none of it does. The agent renders and diffs without it, so tests of those parts need no root.
/// </summary>
public interface INftablesRunner : IDisposable
{
    /// <summary>Runs <paramref name="commands"/> (one command a line) as one transaction; throws <see cref="NftablesException"/> on failure.</summary>
    Task RunAsync(string commands, CancellationToken cancellationToken = default);

    /// <summary>Lists table <c>clientlb</c> of <paramref name="family"/> (<c>ip</c> or <c>ip6</c>) as nftables JSON; null when it does not exist.</summary>
    Task<string?> ListTableJsonAsync(string family, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists, as nftables JSON, set (or, with <paramref name="map"/>, map) <paramref name="set"/> of table <c>clientlb</c> of <paramref name="family"/> with
    /// its elements, or with <paramref name="set"/> null the declarations of every set of the table without elements
    /// (terse); null when the table or the set does not exist. A restart reads only what it needs this way.
    /// </summary>
    Task<string?> ListSetJsonAsync(string family, string? set, bool map = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Looks up <paramref name="keys"/> (canonical element keys) in map <paramref name="set"/> of table <c>clientlb</c> with
    /// <c>get element</c> and returns nft's text output (the elements with their data); null when the table, the map or
    /// any of the keys does not exist. A restart reads the elements of one changed service this way.
    /// </summary>
    Task<string?> GetElementsAsync(string family, string set, IReadOnlyList<string> keys, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets <c>net.ipv4.conf.all.route_localnet=1</c> in the namespace this runner programs, so connections to a
    /// 127.0.0.0/8 VIP (sidecar mode) may leave lo after DNAT; throws <see cref="NftablesException"/> on failure.
    /// </summary>
    Task EnableRouteLocalnetAsync(CancellationToken cancellationToken = default);
}
