using ClientLb.Names;


namespace ClientLb.Sources;

/// <summary>
/// Creates sources. The registry asks each registered factory in registration order; the first that
/// knows the service wins (configuration first, then the DNS and Kubernetes packages).
/// </summary>
public interface IEndpointSourceFactory
{
    /// <summary>The kind of sources this factory makes (<c>config</c>, <c>dns</c>, <c>kubernetes</c>).</summary>
    string Kind { get; }

    /// <summary>Returns a new, not yet started source for <paramref name="service"/>, or null when this factory does not serve it.</summary>
    IEndpointSource? TryCreate(ServiceName service);
}
