using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Grpc.Balancing;

internal static class EndpointUri
{
    /// <summary>
    /// The URI to send to <paramref name="endpoint"/>: the logical one (Host, TLS SNI stay the service name), with the scheme
    /// the endpoint demands, or the first http/https of a preference list such as <c>https+http://greeter</c>.
    /// </summary>
    public static Uri For(Uri original, Endpoint endpoint, ServiceName service)
    {
        string scheme = original.Scheme;
        string wanted = endpoint.Scheme ?? (scheme is "http" or "https" ? scheme : service.Schemes.FirstOrDefault(s => s is "http" or "https")
            ?? throw new NotSupportedException($"The gRPC address '{original}' has the scheme '{scheme}'; ClientLb sends gRPC over http (h2c) and https (h2 via ALPN)."));
        if (wanted == scheme)
        {
            return original;
        }
        return new UriBuilder(original) { Scheme = wanted, Port = original.IsDefaultPort || original.Port < 0 ? -1 : original.Port }.Uri;
    }
}
