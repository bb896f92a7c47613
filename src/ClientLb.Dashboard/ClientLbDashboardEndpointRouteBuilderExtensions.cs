using System.Text.Json;
using ClientLb.Dashboard;
using ClientLb.Registry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the ClientLb dashboard: a live page of the app's discovery and balancing, with a JSON and Server-Sent Events API.</summary>
public static class ClientLbDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves the dashboard under <paramref name="pattern"/> (opt-in: nothing is served unless this is called):
    /// <list type="bullet">
    /// <item><c>{pattern}/</c>: the page (embedded HTML, JS, CSS; works offline).</item>
    /// <item><c>{pattern}/api/services</c>: every service the app resolves, as JSON.</item>
    /// <item><c>{pattern}/api/services/{key}</c>: one service and its endpoints; 404 naming an unknown service.</item>
    /// <item><c>{pattern}/api/events[?service={key}][&amp;list=false]</c>: the same, pushed as Server-Sent Events on every change.</item>
    /// </list>
    /// Requires <c>services.AddClientLb()</c>. Protect it with <see cref="ClientLbDashboardOptions.AuthorizationPolicy"/> or by
    /// chaining <c>RequireAuthorization(...)</c> on the result, which applies to every route of the dashboard.
    /// </summary>
    /// <returns>The route group of the dashboard, for conventions such as <c>RequireAuthorization</c> or <c>RequireHost</c>.</returns>
    /// <exception cref="InvalidOperationException">ClientLb is not registered in the app's services.</exception>
    /// <exception cref="ArgumentException">The pattern or an option is invalid (the message names it).</exception>
    public static RouteGroupBuilder MapClientLbDashboard(this IEndpointRouteBuilder endpoints, string pattern = "/clientlb", Action<ClientLbDashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        if (!pattern.StartsWith('/') || pattern.Contains('{', StringComparison.Ordinal) || pattern.Contains('?', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The dashboard's path '{pattern}' must start with '/' and contain no route parameters or query.", nameof(pattern));
        }
        var options = new ClientLbDashboardOptions();
        configure?.Invoke(options);
        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ClientLbDashboardOptions.RefreshInterval must be positive (was {options.RefreshInterval}).", nameof(configure));
        }
        ServiceRegistry registry = endpoints.ServiceProvider.GetService<ServiceRegistry>()
            ?? throw new InvalidOperationException("MapClientLbDashboard needs ClientLb: call services.AddClientLb() (or AddHttpClient(...).AddClientLb()) when building the app.");

        var hub = new DashboardHub(registry, options);
        endpoints.ServiceProvider.GetService<IHostApplicationLifetime>()?.ApplicationStopping.Register(hub.Dispose);
        var assets = new DashboardAssets(options.Title);
        var api = new DashboardApi(hub);

        RouteGroupBuilder group = endpoints.MapGroup(pattern.TrimEnd('/'));
        group.MapGet("", context => context.Request.Path.Value!.EndsWith('/')
            ? assets.Serve(context, "index.html")
            : Redirect(context));
        group.MapGet("/assets/{file}", context => assets.Serve(context, (string)context.GetRouteValue("file")!));
        group.MapGet("/api/services", api.ListAsync);
        group.MapGet("/api/services/{key}", context => api.DetailAsync(context, (string)context.GetRouteValue("key")!));
        group.MapGet("/api/events", api.EventsAsync);
        if (options.AuthorizationPolicy is string policy)
        {
            group.RequireAuthorization(policy);
        }
        return group;
    }

    private static Task Redirect(HttpContext context)
    {
        context.Response.Redirect(context.Request.PathBase + context.Request.Path + "/" + context.Request.QueryString);
        return Task.CompletedTask;
    }
}
