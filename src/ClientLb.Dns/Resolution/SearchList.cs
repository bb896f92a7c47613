using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Resolution;

/// <summary>The names a stub resolver tries for one input name, in glibc's order (res_search).</summary>
internal static class SearchList
{
    /// <summary>
    /// A name ending in a dot is tried alone. A name with at least <paramref name="ndots"/> dots is tried as is, then
    /// with each search domain; otherwise with each search domain first and as is last. With ndots:5 (Kubernetes)
    /// <c>web.prod</c> becomes <c>web.prod.prod.svc.cluster.local</c>, <c>web.prod.svc.cluster.local</c>, ...
    /// </summary>
    public static IReadOnlyList<string> Candidates(string name, IReadOnlyList<string> search, int ndots)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(search);
        if (DnsName.IsRooted(name))
        {
            return [DnsName.Normalize(name)];
        }
        var names = new List<string>(search.Count + 1);
        bool asIsFirst = DnsName.CountDots(name) >= ndots;
        if (asIsFirst)
        {
            names.Add(name);
        }
        foreach (string domain in search)
        {
            string candidate = name + "." + DnsName.Normalize(domain);
            if (!names.Contains(candidate, StringComparer.OrdinalIgnoreCase))
            {
                names.Add(candidate);
            }
        }
        if (!asIsFirst)
        {
            names.Add(name);
        }
        return names;
    }
}
