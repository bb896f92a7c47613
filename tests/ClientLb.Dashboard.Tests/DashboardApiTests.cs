using System.Net;
using System.Text.Json;
using ClientLb.Dashboard.Tests.Infrastructure;
using ClientLb.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace ClientLb.Dashboard.Tests;

/// <summary>The dashboard's JSON and event-stream API in a running app, against real Kestrel pods on loopback.</summary>
public sealed class DashboardApiTests : IAsyncLifetime
{
    private readonly List<TestBackend> _pods = [];

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            _pods.Add(await TestBackend.StartAsync("pod-" + i, $"127.0.120.{i + 2}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (TestBackend pod in _pods)
        {
            await pod.DisposeAsync();
        }
    }

    private Dictionary<string, string?> Config(string service) => DashboardApp.Endpoints(service, _pods.Select(p => p.Authority));

    [Fact]
    public async Task The_list_shows_every_resolved_service_with_its_source_policy_and_counts()
    {
        Dictionary<string, string?> config = Config("orders");
        config["ClientLb:Services:orders:Policy"] = "RoundRobin";
        DashboardApp.Endpoints("billing", [_pods[0].Authority], config);
        await using DashboardApp app = await DashboardApp.StartAsync(config);
        HttpClient orders = app.CreateClient("http://orders");
        for (int i = 0; i < 6; i++)
        {
            (await orders.GetAsync("/")).EnsureSuccessStatusCode();
        }
        (await app.CreateClient("http://billing").GetAsync("/")).EnsureSuccessStatusCode();

        using HttpClient api = app.CreateApiClient();
        using JsonDocument list = JsonDocument.Parse(await api.GetStringAsync("clientlb/api/services"));
        JsonElement[] services = [.. list.RootElement.EnumerateArray()];
        Assert.Equal(["billing.default|http", "orders.default|http"], services.Select(s => s.GetProperty("key").GetString()));
        JsonElement summary = services[1];
        Assert.Equal("config", summary.GetProperty("sourceKind").GetString());
        Assert.True(summary.GetProperty("sourceHealthy").GetBoolean());
        Assert.Equal(0, summary.GetProperty("stalenessSeconds").GetDouble());
        Assert.Equal(3, summary.GetProperty("endpoints").GetInt32());
        Assert.Equal(3, summary.GetProperty("inRotation").GetInt32());
        Assert.Equal(0, summary.GetProperty("ejected").GetInt32());

        using JsonDocument detail = JsonDocument.Parse(await api.GetStringAsync("clientlb/api/services/orders.default%7Chttp"));
        JsonElement facts = detail.RootElement.GetProperty("facts");
        Assert.Equal("config ClientLb:Services:orders", facts.GetProperty("source").GetString());
        Assert.Equal("RoundRobin", facts.GetProperty("policy").GetString());
        Assert.Equal("ready", facts.GetProperty("selection").GetString());
        Assert.Equal(6, facts.GetProperty("picks").GetInt64());
        Assert.Equal(6, facts.GetProperty("budgetRequests").GetInt64());
        Assert.Equal(0, facts.GetProperty("budgetRetries").GetInt64());
        JsonElement[] rows = [.. detail.RootElement.GetProperty("endpoints").GetProperty("upsert").EnumerateArray()];
        Assert.Equal(_pods.Select(p => p.Authority).Order(), rows.Select(r => r.GetProperty("authority").GetString()).Order());
        Assert.All(rows, r =>
        {
            Assert.True(r.GetProperty("ready").GetBoolean());
            Assert.True(r.GetProperty("inRotation").GetBoolean());
            Assert.Equal(2, r.GetProperty("picks").GetInt64());
            Assert.True(r.GetProperty("latencyMs").GetDouble() > 0);
            Assert.Equal(JsonValueKind.Null, r.GetProperty("ejectedUntil").ValueKind);
        });
    }

    [Fact]
    public async Task An_unknown_service_is_a_404_naming_it_in_the_json_api_and_the_event_stream()
    {
        await using DashboardApp app = await DashboardApp.StartAsync(Config("known"));
        using HttpClient api = app.CreateApiClient();

        using HttpResponseMessage detail = await api.GetAsync("clientlb/api/services/missing.default");
        Assert.Equal(HttpStatusCode.NotFound, detail.StatusCode);
        Assert.StartsWith("Service 'missing.default' is not resolved by this app", await Error(detail));

        using HttpResponseMessage events = await api.GetAsync("clientlb/api/events?service=missing.default");
        Assert.Equal(HttpStatusCode.NotFound, events.StatusCode);
        Assert.StartsWith("Service 'missing.default' is not resolved by this app", await Error(events));

        using HttpResponseMessage badList = await api.GetAsync("clientlb/api/events?list=maybe");
        Assert.Equal(HttpStatusCode.BadRequest, badList.StatusCode);
        Assert.Equal("The query parameter 'list' must be true or false (was 'maybe').", await Error(badList));
    }

    private static async Task<string> Error(HttpResponseMessage response)
    {
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("error").GetString()!;
    }

    [Fact]
    public async Task Nothing_is_served_unless_the_app_maps_the_dashboard()
    {
        await using DashboardApp app = await DashboardApp.StartAsync(Config("quiet"), map: _ => { });
        using HttpClient api = app.CreateApiClient();
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("clientlb/")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("clientlb/api/services")).StatusCode);
    }

    [Fact]
    public async Task The_authorization_policy_guards_the_page_the_api_and_the_stream()
    {
        await using DashboardApp app = await DashboardApp.StartAsync(Config("guarded"), withAuthentication: true,
            map: a => a.MapClientLbDashboard("/ops/lb", o => o.AuthorizationPolicy = "ops"));
        using HttpClient api = app.CreateApiClient();
        foreach (string path in new[] { "ops/lb/", "ops/lb/api/services", "ops/lb/api/events", "ops/lb/assets/app.js" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync(path)).StatusCode);
            using var asOther = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { { "X-Role", "dev" } } };
            Assert.Equal(HttpStatusCode.Forbidden, (await api.SendAsync(asOther)).StatusCode);
        }
        using var asOps = new HttpRequestMessage(HttpMethod.Get, "ops/lb/") { Headers = { { "X-Role", "ops" } } };
        using HttpResponseMessage page = await api.SendAsync(asOps);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("assets/app.js", await page.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_page_and_its_assets_are_served_from_the_assembly_and_a_path_without_slash_redirects()
    {
        await using DashboardApp app = await DashboardApp.StartAsync(Config("paged"), map: a => a.MapClientLbDashboard("/clientlb", o => o.Title = "orders <prod>"));
        using var api = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = app.Address };
        using HttpResponseMessage redirect = await api.GetAsync("clientlb");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/clientlb/", redirect.Headers.Location!.OriginalString);
        string html = await api.GetStringAsync("clientlb/");
        Assert.Contains("orders &lt;prod&gt;", html);
        using HttpResponseMessage js = await api.GetAsync("clientlb/assets/app.js");
        Assert.Equal("text/javascript; charset=utf-8", js.Content.Headers.ContentType!.ToString());
        Assert.Contains("EventSource", await js.Content.ReadAsStringAsync());
        using HttpResponseMessage missing = await api.GetAsync("clientlb/assets/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("'nope.js'", await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_event_stream_pushes_an_endpoint_change_without_being_asked()
    {
        Dictionary<string, string?> config = Config("pushed");
        await using DashboardApp app = await DashboardApp.StartAsync(config);
        (await app.CreateClient("http://pushed").GetAsync("/")).EnsureSuccessStatusCode();
        using HttpClient api = app.CreateApiClient();
        await using ServerSentEvents events = await ServerSentEvents.OpenAsync(api, "clientlb/api/events?service=pushed.default%7Chttp&list=false");
        using (JsonDocument first = await events.NextAsync("service"))
        {
            Assert.True(first.RootElement.GetProperty("endpoints").GetProperty("full").GetBoolean());
            Assert.Equal(3, first.RootElement.GetProperty("endpoints").GetProperty("upsert").GetArrayLength());
        }

        // One pod leaves the configuration: the stream says it was removed (the refresh ticks in between may send
        // nothing at all, or rate updates only).
        app.Configuration.Replace(DashboardApp.Endpoints("pushed", _pods.Take(2).Select(p => p.Authority)));
        while (true)
        {
            using JsonDocument next = await events.NextAsync("service");
            JsonElement removed = next.RootElement.GetProperty("endpoints").GetProperty("remove");
            if (removed.GetArrayLength() > 0)
            {
                Assert.Equal([_pods[2].Authority], removed.EnumerateArray().Select(e => e.GetString()));
                Assert.Equal(2, next.RootElement.GetProperty("summary").GetProperty("endpoints").GetInt32());
                break;
            }
        }
    }
}
