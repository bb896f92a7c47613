namespace ClientLb.Diagnostics;

/// <summary>
/// What the per-endpoint instruments of <see cref="ClientLbMetrics"/> read from an endpoint: its tags and its live state.
/// A balanced endpoint is one; diagnostics needs no more of it.
/// </summary>
public interface IMeteredEndpoint
{
    /// <summary>The service id, the <c>clientlb.service</c> tag.</summary>
    string ServiceId { get; }

    /// <summary>The endpoint's host and port, the <c>clientlb.endpoint</c> tag.</summary>
    string Authority { get; }

    /// <summary>Requests in flight.</summary>
    int Outstanding { get; }

    /// <summary>Whether passive health keeps the endpoint out of rotation.</summary>
    bool IsEjected { get; }

    /// <summary>The latency estimate, or null before the endpoint answered.</summary>
    TimeSpan? Latency(TimeProvider timeProvider);
}
