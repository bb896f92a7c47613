using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// Watches as newline-delimited JSON events, flushed one batch at a time. Supports resourceVersion resume,
/// allowWatchBookmarks, sendInitialEvents, timeoutSeconds; an expired resourceVersion is an ERROR event
/// carrying a 410 Expired Status, as the real API server sends it.
/// </summary>
internal sealed class WatchHandler(ObjectStore store, Func<TimeSpan> bookmarkInterval, WatchDeliveryGate gate, WatchCounter? counter = null)
{
    private static readonly byte[] Newline = "\n"u8.ToArray();

    public async Task HandleAsync(HttpContext ctx, ResourceType t, string? ns, string? legacyName = null)
    {
        IQueryCollection q = ctx.Request.Query;
        ResponseShape shape = Negotiation.Choose(ctx.Request.Headers.Accept);
        IncludeObject include = shape == ResponseShape.Table ? ResourceHandler.IncludeFrom(ctx) : IncludeObject.Object;
        var labels = LabelSelector.Parse(q["labelSelector"]);
        string fieldText = q["fieldSelector"].ToString();
        if (legacyName is not null)
        {
            fieldText = string.IsNullOrEmpty(fieldText) ? $"metadata.name={legacyName}" : $"{fieldText},metadata.name={legacyName}";
        }

        var fields = FieldSelector.Parse(fieldText, t);
        HttpIo.TryLong(q["resourceVersion"], "resourceVersion", out long? fromVersion);
        HttpIo.TryLong(q["timeoutSeconds"], "timeoutSeconds", out long? timeoutSeconds);
        bool bookmarks = HttpIo.Flag(q["allowWatchBookmarks"]);
        bool sendInitial = HttpIo.Flag(q["sendInitialEvents"]);
        if (q.ContainsKey("sendInitialEvents"))
        {
            if (q["resourceVersionMatch"] != "NotOlderThan")
            {
                throw new ApiException(422, "Invalid", "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
            }

            if (sendInitial && !bookmarks)
            {
                throw new ApiException(422, "Invalid", "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true");
            }
        }
        else if (!string.IsNullOrEmpty(q["resourceVersionMatch"]))
        {
            throw ApiException.BadRequest("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = HttpIo.WantsProtobuf(ctx) ? Protobuf.KubeProtobuf.WatchMediaType : "application/json";
        ctx.Response.Headers.CacheControl = "no-cache, private";

        Watcher watcher;
        try
        {
            // sendInitialEvents: state as of now (not older than N), then the initial-events-end bookmark.
            long? start = sendInitial ? null : fromVersion;
            watcher = store.Watch(t, ns, o => labels.Matches(o.Labels) && fields.Matches(o), start, sendInitial && bookmarks);
        }
        catch (ApiException ex) when (ex.Code == 410)
        {
            await WriteLineAsync(ctx, WatchEventType.Error, ex.ToStatus());
            return;
        }

        string user = Authorization.UserOf(ctx)?.UserName ?? "admin";
        using (counter?.Track(user, t.ToString()))
        using (watcher)
        {
            await ctx.Response.StartAsync(ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            using CancellationTokenSource timeout = timeoutSeconds is > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds.Value), store.Time) : new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, timeout.Token);
            CancellationToken ct = linked.Token;
            bool firstTable = true;
            try
            {
                // One outstanding read and one bookmark timer at a time; each is renewed only once it fires.
                Task<bool>? ready = null;
                Task? tick = null;
                while (!ct.IsCancellationRequested)
                {
                    ready ??= watcher.Events.WaitToReadAsync(ct).AsTask();
                    tick ??= bookmarks ? Task.Delay(bookmarkInterval(), store.Time, ct) : Task.Delay(Timeout.Infinite, ct);
                    Task done = await Task.WhenAny(ready, tick);
                    if (done == ready)
                    {
                        ready = null;
                        if (!await (Task<bool>)done)
                        {
                            return; // the store closed this watch (fault injection)
                        }

                        while (watcher.Events.TryRead(out WatchEvent? e))
                        {
                            await gate.WaitAsync(ctx.RequestAborted);
                            await WriteEventAsync(ctx, t, e, shape, include, firstTable);
                            firstTable = false;
                        }
                    }
                    else
                    {
                        tick = null;
                        await done;
                        if (watcher.TryGetBookmarkVersion() is { } rv)
                        {
                            await WriteBookmarkAsync(ctx, t, rv, false);
                        }
                    }
                    await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            // timeoutSeconds ends the watch cleanly; a last bookmark lets the client resume without a gap.
            if (timeout.IsCancellationRequested && !ctx.RequestAborted.IsCancellationRequested)
            {
                while (watcher.Events.TryRead(out WatchEvent? e))
                {
                    await WriteEventAsync(ctx, t, e, shape, include, firstTable);
                }

                if (bookmarks && watcher.TryGetBookmarkVersion() is { } last)
                {
                    await WriteBookmarkAsync(ctx, t, last, false);
                }

                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            }
        }
    }

    private async Task WriteEventAsync(HttpContext ctx, ResourceType t, WatchEvent e, ResponseShape shape, IncludeObject include, bool withColumns)
    {
        if (e.Type == WatchEventType.Bookmark)
        {
            await WriteBookmarkAsync(ctx, t, e.ResourceVersion, e.InitialEventsEnd);
            return;
        }
        switch (shape)
        {
            case ResponseShape.Table:
                await WriteLineAsync(ctx, e.Type, TableConverter.ToTable(e.Object!.Type, [e.Object], include, store.Time.GetUtcNow(), null, null, withColumns));
                break;
            case ResponseShape.PartialObjectMetadata:
                await WriteLineAsync(ctx, e.Type, TableConverter.PartialMetadata(e.Object!));
                break;
            default:
                if (HttpIo.WantsProtobuf(ctx))
                {
                    await WriteLineAsync(ctx, e.Type, e.Object!.ToMutable());
                    break;
                }
                byte[] prefix = Encoding.UTF8.GetBytes($"{{\"type\":\"{e.Type}\",\"object\":");
                await ctx.Response.Body.WriteAsync(prefix, ctx.RequestAborted);
                await ctx.Response.Body.WriteAsync(e.Object!.Utf8, ctx.RequestAborted);
                await ctx.Response.Body.WriteAsync("}\n"u8.ToArray(), ctx.RequestAborted);
                break;
        }
    }

    private Task WriteBookmarkAsync(HttpContext ctx, ResourceType t, long rv, bool initialEventsEnd)
    {
        var meta = new JsonObject { ["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (initialEventsEnd)
        {
            meta["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        }

        var obj = new JsonObject { ["kind"] = t.Kind, ["apiVersion"] = t.ApiVersion, ["metadata"] = meta };
        return WriteLineAsync(ctx, WatchEventType.Bookmark, obj);
    }

    private static async Task WriteLineAsync(HttpContext ctx, string type, JsonNode obj)
    {
        if (HttpIo.WantsProtobuf(ctx) && obj is JsonObject o)
        {
            await ctx.Response.Body.WriteAsync(Protobuf.KubeProtobuf.EncodeWatchFrame(type, o), ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            return;
        }
        var line = new JsonObject { ["type"] = type, ["object"] = obj };
        await ctx.Response.Body.WriteAsync(Json.ToUtf8(line), ctx.RequestAborted);
        await ctx.Response.Body.WriteAsync(Newline, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }
}
