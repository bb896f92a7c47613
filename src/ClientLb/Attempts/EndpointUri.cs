using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Attempts;

/// <summary>The one rewrite of a request URI for its endpoint, shared by HTTP and gRPC attempts and gRPC health checks.</summary>
public static class EndpointUri
{
    /// <summary>
    /// The URI to send to <paramref name="endpoint"/>: the logical one (Host, TLS SNI stay the service name), with the scheme
    /// the endpoint demands, or the first http/https of a preference list such as <c>https+http://payments</c>.
    /// </summary>
    /// <returns><paramref name="original"/> itself when its scheme stands (no allocation).</returns>
    /// <exception cref="NotSupportedException">The URI's scheme is neither http, https nor a list naming one of them.</exception>
    public static Uri For(Uri original, Endpoint endpoint, ServiceName service)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(service);
        string scheme = original.Scheme;
        string wanted = endpoint.Scheme ?? (scheme is "http" or "https" ? scheme : service.Schemes.FirstOrDefault(s => s is "http" or "https")
            ?? throw new NotSupportedException($"The URI '{original}' has the scheme '{scheme}'; ClientLb sends http and https (gRPC as h2c and h2 via ALPN), or a preference list such as https+http."));
        if (ReferenceEquals(wanted, scheme) || wanted == scheme)
        {
            return original;
        }
        return new UriBuilder(original) { Scheme = wanted, Port = original.IsDefaultPort || original.Port < 0 ? -1 : original.Port }.Uri;
    }
}
