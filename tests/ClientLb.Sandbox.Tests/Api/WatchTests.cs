using System.Net;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;
using ClientLb.Testing;

namespace ClientLb.Sandbox.Tests.Api;

public class WatchTests
{
    private const string Svcs = "/api/v1/namespaces/default/services";

    private static string Rv(JsonNode o) => o.S("metadata", "resourceVersion")!;

    [Fact]
    public async Task Watch_from_a_resource_version_sees_exactly_the_later_events_in_order()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        JsonObject a = (await api.PostAsync(Svcs, ApiClient.Service("a"))).Body;
        JsonObject b = (await api.PostAsync(Svcs, ApiClient.Service("b"))).Body;
        await api.PatchAsync($"{Svcs}/a", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["x"] = "1" } } });
        await api.DeleteAsync($"{Svcs}/b");

        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={Rv(a)}", Deadline.In());
        var events = new List<(string?, string?, long)>();
        for (int i = 0; i < 3; i++)
        {
            JsonObject e = (await watch.NextChangeAsync())!;
            events.Add((e.S("type"), e.S("object", "metadata", "name"), long.Parse(Rv(e["object"]!))));
        }
        Assert.Equal([("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")], events.Select(e => (e.Item1, e.Item2)));
        Assert.Equal(long.Parse(Rv(b)), events[0].Item3);
        Assert.True(events[0].Item3 < events[1].Item3 && events[1].Item3 < events[2].Item3);

        // Live events follow on the same stream, nothing repeated.
        await api.PostAsync(Svcs, ApiClient.Service("c"));
        JsonObject live = (await watch.NextChangeAsync())!;
        Assert.Equal(("ADDED", "c"), (live.S("type"), live.S("object", "metadata", "name")));
    }

    [Fact]
    public async Task Watch_without_resource_version_starts_with_synthetic_added_events()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        await api.PostAsync(Svcs, ApiClient.Service("a"));
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=true", Deadline.In());
        JsonObject first = (await watch.NextChangeAsync())!;
        Assert.Equal(("ADDED", "a"), (first.S("type"), first.S("object", "metadata", "name")));
    }

    [Fact]
    public async Task Watch_from_a_compacted_resource_version_gets_410_expired()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { WatchHistorySize = 3 });
        using var api = new ApiClient(cluster.CreateHttpClient());
        JsonObject first = (await api.PostAsync(Svcs, ApiClient.Service("s0"))).Body;
        for (int i = 1; i < 6; i++)
        {
            await api.PostAsync(Svcs, ApiClient.Service($"s{i}"));
        }

        await using (WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={Rv(first)}", Deadline.In()))
        {
            JsonObject e = (await watch.NextAsync())!;
            Assert.Equal("ERROR", e.S("type"));
            Assert.Equal(("Status", 410L, "Expired"), (e.S("object", "kind"), e.L("object", "code"), e.S("object", "reason")));
            Assert.Contains("too old resource version", e.S("object", "message"));
            Assert.Null(await watch.NextAsync()); // and the stream ends
        }

        // Within the retained history it still works; after an explicit compaction it does not.
        long recent = cluster.ResourceVersion - 2;
        await using (WatchStream ok = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={recent}", Deadline.In()))
        {
            Assert.Equal("ADDED", (await ok.NextAsync())!.S("type"));
        }

        cluster.CompactHistory();
        await using (WatchStream gone = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={recent}", Deadline.In()))
        {
            Assert.Equal(410, (await gone.NextAsync())!.L("object", "code"));
        }

        (HttpStatusCode Code, JsonObject Body) continued = await api.GetAsync($"{Svcs}?limit=1");
        (HttpStatusCode Code, JsonObject Body) expired = await api.GetAsync($"{Svcs}?limit=1&resourceVersion=1&resourceVersionMatch=Exact");
        Assert.Equal(HttpStatusCode.Gone, expired.Code);
        Assert.Equal("Expired", expired.Body.S("reason"));
        Assert.Equal(HttpStatusCode.OK, continued.Code);
    }

    [Fact]
    public async Task Bookmarks_arrive_when_asked_and_carry_a_resumable_version()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { BookmarkInterval = TimeSpan.FromMilliseconds(100) });
        using var api = new ApiClient(cluster.CreateHttpClient());
        await api.PostAsync(Svcs, ApiClient.Service("a"));
        long rv = cluster.ResourceVersion;
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&allowWatchBookmarks=true&resourceVersion={rv}", Deadline.In());
        JsonObject bookmark = (await watch.NextAsync())!;
        Assert.True(bookmark.S("type") == "BOOKMARK", bookmark.ToJsonString());
        Assert.Equal(("Service", "v1"), (bookmark.S("object", "kind"), bookmark.S("object", "apiVersion")));
        Assert.True(long.Parse(Rv(bookmark["object"]!)) >= rv);

        // Resuming from a bookmark misses nothing: a change made now shows up on a watch from it.
        string mark = Rv(bookmark["object"]!);
        await api.PostAsync(Svcs, ApiClient.Service("b"));
        await using WatchStream resumed = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={mark}", Deadline.In());
        Assert.Equal("b", (await resumed.NextChangeAsync())!.S("object", "metadata", "name"));
    }

    [Fact]
    public async Task No_bookmarks_unless_asked_and_timeout_ends_the_stream()
    {
        var clock = new TrackingTimeProvider();
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { BookmarkInterval = TimeSpan.FromMilliseconds(50), TimeProvider = clock });
        using var api = new ApiClient(cluster.CreateHttpClient());
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={cluster.ResourceVersion}&timeoutSeconds=1", Deadline.In());
        // The stream ends when a second has passed on the cluster's clock; a bookmark due every 50 ms would come first.
        await clock.WaitForTimerAsync(TimeSpan.FromSeconds(30), dueIn => dueIn == TimeSpan.FromSeconds(1));
        for (int i = 0; i < 20; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(50));
        }

        Assert.Null(await watch.NextAsync()); // no bookmark in a second, then a clean end
    }

    [Fact]
    public async Task Send_initial_events_ends_with_the_initial_events_end_bookmark()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        await api.PostAsync(Svcs, ApiClient.Service("a"));
        await api.PostAsync(Svcs, ApiClient.Service("b"));
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", Deadline.In());
        Assert.Equal("a", (await watch.NextAsync())!.S("object", "metadata", "name"));
        Assert.Equal("b", (await watch.NextAsync())!.S("object", "metadata", "name"));
        JsonObject end = (await watch.NextAsync())!;
        Assert.Equal("BOOKMARK", end.S("type"));
        Assert.Equal("true", end.S("object", "metadata", "annotations", "k8s.io/initial-events-end"));
        Assert.Equal(cluster.ResourceVersion.ToString(), Rv(end["object"]!));
    }

    [Fact]
    public async Task Label_filtered_watch_turns_leaving_the_selector_into_deleted()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        long rv = cluster.ResourceVersion;
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={rv}&labelSelector=team%3Dblue", Deadline.In());
        await api.PostAsync(Svcs, ApiClient.Service("red", labels: new JsonObject { ["team"] = "red" }));
        await api.PostAsync(Svcs, ApiClient.Service("x", labels: new JsonObject { ["team"] = "blue" }));
        await api.PatchAsync($"{Svcs}/x", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["team"] = "green" } } });
        await api.PatchAsync($"{Svcs}/red", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["team"] = "blue" } } });
        var seen = new List<(string?, string?)>();
        for (int i = 0; i < 3; i++) { JsonObject e = (await watch.NextChangeAsync())!; seen.Add((e.S("type"), e.S("object", "metadata", "name"))); }
        Assert.Equal([("ADDED", "x"), ("DELETED", "x"), ("ADDED", "red")], seen);
    }

    [Fact]
    public async Task Dropping_watches_ends_open_streams()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={cluster.ResourceVersion}", Deadline.In());
        // The watch is registered before its response headers are sent, so it is open by now.
        Assert.Equal(1, cluster.DropWatches());
        Assert.Null(await watch.NextAsync());
    }
}
