using System.Net;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Api;

public class FaultInjectionTests
{
    private const string Svcs = "/api/v1/namespaces/default/services";

    [Fact]
    public async Task Paused_watch_delivery_holds_events_and_releases_them_in_order()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={cluster.ResourceVersion}", Deadline.In());

        cluster.PauseWatchDelivery();
        await api.PostAsync(Svcs, ApiClient.Service("a"));
        await api.PostAsync(Svcs, ApiClient.Service("b"));
        Task<JsonObject?> next = watch.NextChangeAsync();
        // The store has both changes, the stream has neither.
        Assert.False(next.IsCompleted);
        Assert.NotNull(await cluster.GetAsync("v1", "Service", "b"));

        cluster.ResumeWatchDelivery();
        Assert.Equal("a", (await next)!.S("object", "metadata", "name"));
        Assert.Equal("b", (await watch.NextChangeAsync())!.S("object", "metadata", "name"));
    }

    [Fact]
    public async Task Api_server_restart_keeps_state_and_breaks_open_watches()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        Uri before = cluster.ApiServerUri;
        using var api = new ApiClient(cluster.CreateHttpClient());
        await api.PostAsync(Svcs, ApiClient.Service("kept"));
        await using WatchStream watch = await api.WatchAsync($"{Svcs}?watch=1&resourceVersion={cluster.ResourceVersion}", Deadline.In());

        await cluster.StopApiServerAsync();
        Assert.Null(await watch.NextChangeAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t => t.IsFaulted ? null : t.Result));
        using (var refused = new HttpClient { BaseAddress = before })
        {
            HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => refused.GetAsync("/version"));
            Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        }

        await cluster.StartApiServerAsync();
        Assert.Equal(before, cluster.ApiServerUri);
        using var again = new ApiClient(cluster.CreateHttpClient());
        (HttpStatusCode Code, JsonObject Body) list = await again.GetAsync(Svcs);
        Assert.Equal(HttpStatusCode.OK, list.Code);
        Assert.Contains("kept", list.Body.ToJsonString());
    }
}
