using ClientLb.LoadBalancing;
using ClientLb.ServiceDiscovery;

namespace ClientLb.Http;

/// <summary>
/// The request path's way from a URI to its service's balancer: a short array of (scheme, host, port) entries scanned
/// without locks or allocation; a miss parses the name and asks the registry. One per handler (HTTP or gRPC).
/// </summary>
public sealed class ServiceBalancerLookup
{
    private const int MaxEntries = 16;
    private readonly ServiceRegistry _registry;
    private readonly Action<ServiceBalancer, Uri>? _onResolved;
    private CachedService[] _cache = [];

    /// <summary>Creates a lookup over <paramref name="registry"/>; <paramref name="onResolved"/> runs once per newly cached service.</summary>
    public ServiceBalancerLookup(ServiceRegistry registry, Action<ServiceBalancer, Uri>? onResolved = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _onResolved = onResolved;
    }

    /// <summary>The balancer of the service <paramref name="uri"/> names.</summary>
    /// <exception cref="InvalidOperationException">The URI is missing or relative.</exception>
    public ServiceBalancer Get(Uri? uri)
    {
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException($"ClientLb needs an absolute request URI that names the service, such as 'http://payments/orders' (got '{uri}'). Set HttpClient.BaseAddress to the service URL.");
        }
        string host = uri.Host;
        string scheme = uri.Scheme;
        int port = uri.Port;
        foreach (CachedService entry in Volatile.Read(ref _cache))
        {
            if (entry.Port == port && string.Equals(entry.Host, host, StringComparison.Ordinal) && string.Equals(entry.Scheme, scheme, StringComparison.Ordinal))
            {
                return entry.Balancer;
            }
        }
        return Resolve(uri);
    }

    private ServiceBalancer Resolve(Uri uri)
    {
        string name = uri.Scheme + "://" + uri.Host + (uri.IsDefaultPort || uri.Port < 0 ? "" : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ServiceBalancer balancer = _registry.GetBalancer(ServiceName.Parse(name, _registry.Defaults));
        _onResolved?.Invoke(balancer, uri);
        // Keep the scan short; a client talking to many hosts still works, with the registry as the slow path.
        CachedService[] current = Volatile.Read(ref _cache);
        var entry = new CachedService(uri.Scheme, uri.Host, uri.Port, balancer);
        Volatile.Write(ref _cache, current.Length >= MaxEntries ? [entry, .. current[..(MaxEntries - 1)]] : [entry, .. current]);
        return balancer;
    }

    private sealed record CachedService(string Scheme, string Host, int Port, ServiceBalancer Balancer);
}
