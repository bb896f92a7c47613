namespace ClientLb.Dashboard;

/// <summary>Options of the ClientLb dashboard (see <c>MapClientLbDashboard</c>).</summary>
public sealed class ClientLbDashboardOptions
{
    /// <summary>
    /// The authorization policy every dashboard route requires (page, JSON and event stream), or null to leave
    /// authorization to the caller (chain <c>RequireAuthorization</c> on the returned builder). The dashboard shows no
    /// secrets or request contents, but it does show the addresses of every backend the app calls.
    /// </summary>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>
    /// How often rates (picks per second), staleness and the set of services are refreshed and pushed; endpoint
    /// changes, ejections and source failures are pushed as they happen. 1 second by default.
    /// </summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The page's title, e.g. the app's name.</summary>
    public string Title { get; set; } = "ClientLb";
}
