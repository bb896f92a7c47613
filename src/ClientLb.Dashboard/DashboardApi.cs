using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Dashboard;

/// <summary>The JSON and event-stream handlers.</summary>
internal sealed class DashboardApi(DashboardHub hub)
{
    public static string UnknownService(string key) =>
        $"Service '{key}' is not resolved by this app (no HttpClient or gRPC channel has used it, or it was released after being idle); see api/services for those that are.";

    public Task ListAsync(HttpContext context) =>
        WriteJson(context, StatusCodes.Status200OK, hub.Current().Summaries, DashboardJsonContext.Default.ServiceSummaryArray);

    public Task DetailAsync(HttpContext context, string key)
    {
        if (hub.Detail(key) is not (ServiceSummary summary, ServiceFacts facts, EndpointRow[] rows))
        {
            return WriteJson(context, StatusCodes.Status404NotFound, new DashboardError(UnknownService(key)), DashboardJsonContext.Default.DashboardError);
        }
        return WriteJson(context, StatusCodes.Status200OK, new ServiceDetail(key, summary, facts, new ListDelta<EndpointRow>(true, rows, [])), DashboardJsonContext.Default.ServiceDetail);
    }

    public Task EventsAsync(HttpContext context)
    {
        string? key = context.Request.Query["service"];
        string? list = context.Request.Query["list"];
        if (list is not (null or "true" or "false"))
        {
            return WriteJson(context, StatusCodes.Status400BadRequest, new DashboardError($"The query parameter 'list' must be true or false (was '{list}')."),
                DashboardJsonContext.Default.DashboardError);
        }
        if (string.IsNullOrEmpty(key))
        {
            key = null;
        }
        else if (!hub.Current().Balancers.ContainsKey(key))
        {
            return WriteJson(context, StatusCodes.Status404NotFound, new DashboardError(UnknownService(key)), DashboardJsonContext.Default.DashboardError);
        }
        return new EventStream(hub, context, key, list != "false").RunAsync();
    }

    private static async Task WriteJson<T>(HttpContext context, int status, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted).ConfigureAwait(false);
    }
}
