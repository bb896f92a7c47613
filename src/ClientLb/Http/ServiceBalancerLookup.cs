using ClientLb.Balancing;
using ClientLb.Names;
using ClientLb.Registry;

namespace ClientLb.Http;

/// <summary>
/// The request path's way from a URI to its service's balancer: a short array of (scheme, host, port) entries scanned
/// without locks or allocation; a miss parses the name and leases the balancer from the registry. One per handler (HTTP
/// or gRPC), which disposes it with itself: that releases its leases, so a service no client uses any more stops.
/// </summary>
public sealed class ServiceBalancerLookup : IDisposable
{
    private const int MaxEntries = 16;
    private readonly ServiceRegistry _registry;
    private readonly Action<ServiceBalancer, Uri>? _onResolved;
    // Taken by misses and Dispose only: every lease acquired is either in the cache or released, never lost to a race.
    private readonly Lock _gate = new();
    private CachedService[] _cache = [];
    private bool _disposed;

    /// <summary>Creates a lookup over <paramref name="registry"/>; <paramref name="onResolved"/> runs once per newly cached service.</summary>
    public ServiceBalancerLookup(ServiceRegistry registry, Action<ServiceBalancer, Uri>? onResolved = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _onResolved = onResolved;
    }

    /// <summary>The balancer of the service <paramref name="uri"/> names.</summary>
    /// <exception cref="InvalidOperationException">The URI is missing or relative.</exception>
    /// <exception cref="ObjectDisposedException">The lookup is disposed and has no balancer for the URI any more.</exception>
    public ServiceBalancer Get(Uri? uri)
    {
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException($"ClientLb needs an absolute request URI that names the service, such as 'http://payments/orders' (got '{uri}'). Set HttpClient.BaseAddress to the service URL.");
        }
        return Find(Volatile.Read(ref _cache), uri) ?? Resolve(uri);
    }

    private static ServiceBalancer? Find(CachedService[] cache, Uri uri)
    {
        string host = uri.Host;
        string scheme = uri.Scheme;
        int port = uri.Port;
        foreach (CachedService entry in cache)
        {
            if (entry.Port == port && string.Equals(entry.Host, host, StringComparison.Ordinal) && string.Equals(entry.Scheme, scheme, StringComparison.Ordinal))
            {
                return entry.Lease.Balancer;
            }
        }
        return null;
    }

    private ServiceBalancer Resolve(Uri uri)
    {
        string name = uri.Scheme + "://" + uri.Host + (uri.IsDefaultPort || uri.Port < 0 ? "" : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ServiceName service = ServiceName.Parse(name, _registry.Defaults);
        ServiceBalancerLease? evicted = null;
        ServiceBalancer balancer;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CachedService[] current = _cache;
            // A concurrent miss for the same URI may have cached it while this one waited for the lock.
            if (Find(current, uri) is ServiceBalancer cached)
            {
                return cached;
            }
            ServiceBalancerLease lease = _registry.AcquireBalancer(service);
            try
            {
                _onResolved?.Invoke(lease.Balancer, uri);
            }
            catch
            {
                lease.Dispose();
                throw;
            }
            // Keep the scan short; a client talking to many hosts still works, with the registry as the slow path.
            var entry = new CachedService(uri.Scheme, uri.Host, uri.Port, lease);
            if (current.Length >= MaxEntries)
            {
                evicted = current[^1].Lease;
                Volatile.Write(ref _cache, [entry, .. current[..^1]]);
            }
            else
            {
                Volatile.Write(ref _cache, [entry, .. current]);
            }
            balancer = lease.Balancer;
        }
        // A request may still be using the evicted balancer (it read the cache before this swap). Releasing it is safe:
        // the registry keeps a balancer for the idle-service timeout after its last lease, and a miss that comes back
        // for it within that time gets the same one.
        evicted?.Dispose();
        return balancer;
    }

    /// <summary>
    /// Releases the lease of every cached service. Requests already under way finish on the balancer they got (released
    /// balancers are kept for the idle-service timeout); later lookups throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        CachedService[] cached;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            cached = _cache;
            Volatile.Write(ref _cache, []);
        }
        foreach (CachedService entry in cached)
        {
            entry.Lease.Dispose();
        }
    }

    private sealed record CachedService(string Scheme, string Host, int Port, ServiceBalancerLease Lease);
}
