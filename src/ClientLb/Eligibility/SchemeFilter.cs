using System.Collections.Immutable;
using ClientLb.Endpoints;

namespace ClientLb.Eligibility;

/// <summary>
/// The scheme rule of Microsoft.Extensions.ServiceDiscovery for a URI such as <c>https+http://svc</c>: endpoints
/// that carry a scheme are kept only when theirs is the most preferred scheme present; endpoints without a
/// scheme are always kept. A name without schemes keeps everything.
/// </summary>
public static class SchemeFilter
{
    /// <summary>Applies the rule.</summary>
    public static ImmutableArray<Endpoint> Apply(ImmutableArray<Endpoint> endpoints, IReadOnlyList<string> schemes)
    {
        if (schemes.Count == 0 || endpoints.IsDefaultOrEmpty)
        {
            return endpoints;
        }
        int best = int.MaxValue;
        bool anyDropped = false;
        foreach (Endpoint e in endpoints)
        {
            if (e.Scheme is not null)
            {
                int i = IndexOf(schemes, e.Scheme);
                if (i >= 0 && i < best)
                {
                    best = i;
                }
            }
        }
        foreach (Endpoint e in endpoints)
        {
            anyDropped |= e.Scheme is not null && IndexOf(schemes, e.Scheme) != best;
        }
        return anyDropped ? endpoints.RemoveAll(e => e.Scheme is not null && IndexOf(schemes, e.Scheme) != best) : endpoints;
    }

    private static int IndexOf(IReadOnlyList<string> schemes, string scheme)
    {
        for (int i = 0; i < schemes.Count; i++)
        {
            if (string.Equals(schemes[i], scheme, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }
}
