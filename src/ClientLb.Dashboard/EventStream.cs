using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ClientLb.Dashboard;

/// <summary>
/// One browser's Server-Sent Events stream: the service list (<c>services</c>) and, when asked for, one service's
/// detail (<c>service</c>), each sent whole first and then as deltas of what changed, whenever the hub reports a change.
/// </summary>
internal sealed class EventStream(DashboardHub hub, HttpContext context, string? serviceKey, bool withList)
{
    private readonly Dictionary<string, ServiceSummary> _sentServices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EndpointRow> _sentRows = new(StringComparer.Ordinal);
    private ServiceSummary? _sentSummary;
    private ServiceFacts? _sentFacts;
    private bool _first = true;

    public async Task RunAsync()
    {
        HttpResponse response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, hub.Stopping);
        CancellationToken aborted = ended.Token;
        await response.WriteAsync("retry: 1000\n\n", aborted).ConfigureAwait(false);
        try
        {
            while (!aborted.IsCancellationRequested)
            {
                Task changed = hub.Changed;
                DashboardHub.Frame frame = hub.Current();
                if (withList && Diff(_sentServices, frame.Summaries, static s => s.Key, _first) is { } services)
                {
                    await Send("services", services, DashboardJsonContext.Default.ListDeltaServiceSummary, aborted).ConfigureAwait(false);
                }
                if (serviceKey is not null && !await SendDetail(serviceKey, aborted).ConfigureAwait(false))
                {
                    return;
                }
                _first = false;
                await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                await changed.WaitAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The browser went away, or the app is stopping.
        }
    }

    // False when the service is gone: the stream says so and ends (the page shows it).
    private async Task<bool> SendDetail(string key, CancellationToken aborted)
    {
        if (hub.Detail(key) is not (ServiceSummary summary, ServiceFacts facts, EndpointRow[] rows))
        {
            await Send("gone", new DashboardError(DashboardApi.UnknownService(key)), DashboardJsonContext.Default.DashboardError, aborted).ConfigureAwait(false);
            return false;
        }
        ListDelta<EndpointRow>? endpoints = Diff(_sentRows, rows, static r => r.Authority, _first);
        if (endpoints is null && summary == _sentSummary && facts == _sentFacts)
        {
            return true;
        }
        _sentSummary = summary;
        _sentFacts = facts;
        await Send("service", new ServiceDetail(key, summary, facts, endpoints ?? new ListDelta<EndpointRow>(false, [], [])), DashboardJsonContext.Default.ServiceDetail, aborted)
            .ConfigureAwait(false);
        return true;
    }

    /// <summary>What changed between <paramref name="sent"/> and <paramref name="current"/> (and records it as sent); null when nothing did.</summary>
    internal static ListDelta<T>? Diff<T>(Dictionary<string, T> sent, IReadOnlyList<T> current, Func<T, string> keyOf, bool full) where T : class
    {
        var upsert = new List<T>();
        var seen = new HashSet<string>(current.Count, StringComparer.Ordinal);
        foreach (T item in current)
        {
            string key = keyOf(item);
            seen.Add(key);
            if (full || !sent.TryGetValue(key, out T? previous) || !previous.Equals(item))
            {
                upsert.Add(item);
                sent[key] = item;
            }
        }
        List<string> removed = [.. sent.Keys.Where(k => !seen.Contains(k))];
        foreach (string key in removed)
        {
            sent.Remove(key);
        }
        return full || upsert.Count > 0 || removed.Count > 0 ? new ListDelta<T>(full, upsert, removed) : null;
    }

    private async Task Send<T>(string name, T payload, JsonTypeInfo<T> type, CancellationToken aborted)
    {
        // One JSON line per event: the serializer escapes newlines inside strings, so "data:" needs no splitting.
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(payload, type);
        Stream body = context.Response.Body;
        await body.WriteAsync(Encoding.ASCII.GetBytes("event: " + name + "\ndata: "), aborted).ConfigureAwait(false);
        await body.WriteAsync(json, aborted).ConfigureAwait(false);
        await body.WriteAsync("\n\n"u8.ToArray(), aborted).ConfigureAwait(false);
    }
}
