using System.Diagnostics;

namespace ClientLb.Diagnostics;

/// <summary>
/// Tracing: each attempt is a <c>ClientLb.Attempt</c> activity tagged with the service, the chosen endpoint and the
/// attempt number; HttpClient's outgoing request activity is its child.
/// </summary>
public static class ClientLbActivity
{
    /// <summary>The ActivitySource name; it starts one <c>ClientLb.Attempt</c> activity per attempt when listened to.</summary>
    public const string SourceName = "ClientLb";

    /// <summary>The tag with the service id.</summary>
    public const string ServiceTag = "clientlb.service";

    /// <summary>The tag with the chosen endpoint (<c>host:port</c>).</summary>
    public const string EndpointTag = "clientlb.endpoint";

    /// <summary>The tag with the attempt number (0 for the first).</summary>
    public const string AttemptTag = "clientlb.attempt";

    internal static ActivitySource Source { get; } = new(SourceName);
}
