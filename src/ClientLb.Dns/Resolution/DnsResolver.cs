using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Resolution;

/// <summary>
/// Name lookups over an <see cref="IDnsClient"/>: the search list with ndots as a pod's resolver applies it, and
/// CNAME chains followed within a response and, when the target's records are missing, by asking again.
/// </summary>
internal sealed class DnsResolver
{
    /// <summary>The longest CNAME chain followed (BIND uses 16 too).</summary>
    public const int MaxCnameChain = 16;

    private readonly IDnsClient _client;
    private readonly IReadOnlyList<string> _search;
    private readonly int _ndots;

    /// <summary>Creates a resolver with the search list and ndots of <paramref name="settings"/>.</summary>
    public DnsResolver(IDnsClient client, DnsResolverSettings settings)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        ArgumentNullException.ThrowIfNull(settings);
        _search = settings.Search;
        _ndots = settings.Ndots;
    }

    /// <summary>Looks up <paramref name="name"/> (rooted names skip the search list).</summary>
    /// <exception cref="DnsResolutionException">A query failed (timeouts, server errors, a CNAME loop) and no candidate gave records.</exception>
    public async Task<DnsLookup> LookupAsync(string name, DnsRecordType type, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> candidates = SearchList.Candidates(name, _search, _ndots);
        DnsLookup? negative = null;
        DnsResolutionException? error = null;
        var tried = new List<string>(candidates.Count);
        foreach (string candidate in candidates)
        {
            tried.Add(candidate);
            DnsLookup lookup;
            try
            {
                lookup = await ResolveChainAsync(name, candidate, type, cancellationToken).ConfigureAwait(false);
            }
            catch (DnsResolutionException ex)
            {
                // glibc goes on with the next domain after a server failure but reports it if nothing is found.
                error ??= ex;
                continue;
            }
            if (lookup.Status == DnsLookupStatus.Found)
            {
                return lookup with { TriedNames = tried };
            }
            // NODATA says more than NXDOMAIN (the name exists), so it is the negative answer to report.
            if (negative is null || (lookup.Status == DnsLookupStatus.NoData && negative.Status != DnsLookupStatus.NoData))
            {
                negative = lookup;
            }
        }
        if (error is not null)
        {
            // Keep the reason: the server attempts when there were some, else the failure itself (a CNAME loop with its chain).
            throw new DnsResolutionException($"Looking up '{name}' {type} failed (tried {string.Join(", ", tried)})",
                error.Attempts.Count > 0 ? error.Attempts : [error.Message], error);
        }
        return negative! with { TriedNames = tried };
    }

    private async Task<DnsLookup> ResolveChainAsync(string queryName, string candidate, DnsRecordType type, CancellationToken cancellationToken)
    {
        string current = candidate;
        uint ttl = uint.MaxValue;
        var visited = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { DnsName.Normalize(candidate) };
        while (true)
        {
            DnsQueryResult result = await _client.QueryAsync(new DnsQuestion(DnsName.Normalize(current), type), cancellationToken).ConfigureAwait(false);
            DnsMessage response = result.Response;
            DnsLookup Negative(DnsLookupStatus status) => new()
            {
                QueryName = queryName, Type = type, Status = status, AnsweredName = candidate, CanonicalName = current,
                Ttl = NegativeTtl(response), LastResponse = result,
            };
            if (response.ResponseCode == DnsResponseCode.NXDomain)
            {
                return Negative(DnsLookupStatus.NameNotFound);
            }
            string owner = current;
            while (true)
            {
                List<DnsRecord> records = response.Answers.Where(r => r.Type == type && DnsName.AreEqual(r.Name, owner)).ToList();
                if (records.Count > 0)
                {
                    return new DnsLookup
                    {
                        QueryName = queryName, Type = type, Status = DnsLookupStatus.Found, AnsweredName = candidate, CanonicalName = DnsName.Normalize(owner),
                        Records = records, Additionals = response.Additionals, Ttl = Math.Min(ttl, records.Min(r => r.Ttl)), LastResponse = result,
                    };
                }
                DnsCnameRecord? alias = type == DnsRecordType.CNAME ? null
                    : response.Answers.OfType<DnsCnameRecord>().FirstOrDefault(c => DnsName.AreEqual(c.Name, owner));
                if (alias is null)
                {
                    break;
                }
                if (!visited.Add(DnsName.Normalize(alias.Target)) || visited.Count > MaxCnameChain + 1)
                {
                    throw new DnsResolutionException($"The CNAME chain from '{candidate}' loops or is longer than {MaxCnameChain} ({string.Join(" -> ", visited)} -> {alias.Target})");
                }
                ttl = Math.Min(ttl, alias.Ttl);
                owner = alias.Target;
            }
            if (DnsName.AreEqual(owner, current))
            {
                return Negative(DnsLookupStatus.NoData);
            }
            // The chain left the response without reaching records: ask for the last target itself.
            current = owner;
        }
    }

    private static uint? NegativeTtl(DnsMessage response)
    {
        DnsSoaRecord? soa = response.Authorities.OfType<DnsSoaRecord>().FirstOrDefault();
        return soa?.NegativeTtl;
    }
}
