using System.Diagnostics;
using ClientLb.Dashboard.Tests.Infrastructure;
using ClientLb.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ClientLb.Dashboard.Tests;

/// <summary>The page in Debian's chromium (Playwright), against a running app calling real Kestrel pods on loopback.</summary>
[Collection(MeasuredAlone.Name)]
public sealed class DashboardPageTests(Browser browser) : IClassFixture<Browser>, IAsyncLifetime
{
    private readonly List<TestBackend> _pods = [];

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 4; i++)
        {
            _pods.Add(await TestBackend.StartAsync("pod-" + i, $"127.0.121.{i + 2}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (TestBackend pod in _pods)
        {
            await pod.DisposeAsync();
        }
    }

    private static ILocator ServiceRow(IPage page, string key) => page.Locator($"[data-service='{key}']");

    private static ILocator EndpointRow(IPage page, string authority) => page.Locator($"#endpoints [data-endpoint='{authority}']");

    [Fact]
    public async Task The_page_lists_the_services_of_a_running_app()
    {
        Dictionary<string, string?> config = DashboardApp.Endpoints("orders", _pods.Take(2).Select(p => p.Authority));
        DashboardApp.Endpoints("billing", _pods.Skip(2).Select(p => p.Authority), config);
        await using DashboardApp app = await DashboardApp.StartAsync(config);
        (await app.CreateClient("http://orders").GetAsync("/")).EnsureSuccessStatusCode();
        (await app.CreateClient("http://billing").GetAsync("/")).EnsureSuccessStatusCode();

        IPage page = await browser.OpenAsync(app.Dashboard);
        await Assertions.Expect(page.GetByTestId("service-count")).ToHaveTextAsync("2 services");
        await Assertions.Expect(ServiceRow(page, "billing.default|http")).ToContainTextAsync("2/2");
        await Assertions.Expect(ServiceRow(page, "orders.default|http")).ToContainTextAsync("config");
        await Assertions.Expect(page.GetByTestId("connection")).ToHaveTextAsync("live");

        await ServiceRow(page, "orders.default|http").ClickAsync();
        await Assertions.Expect(page.Locator("#endpoints .row")).ToHaveCountAsync(2);
        await Assertions.Expect(EndpointRow(page, _pods[0].Authority).Locator(".state")).ToHaveTextAsync("in rotation");
        await Assertions.Expect(page.Locator("[data-fact='source']")).ToHaveTextAsync("config: config ClientLb:Services:orders");
    }

    [Fact]
    public async Task A_change_of_endpoints_appears_on_the_page_within_a_second_without_reload()
    {
        Dictionary<string, string?> config = DashboardApp.Endpoints("moving", _pods.Take(2).Select(p => p.Authority));
        await using DashboardApp app = await DashboardApp.StartAsync(config);
        (await app.CreateClient("http://moving").GetAsync("/")).EnsureSuccessStatusCode();
        IPage page = await browser.OpenAsync(new Uri(app.Dashboard, "#" + Uri.EscapeDataString("moving.default|http")));
        await Assertions.Expect(page.Locator("#endpoints .row")).ToHaveCountAsync(2);
        await page.EvaluateAsync("() => { window.__navigations = performance.getEntriesByType('navigation').length; }");

        var clock = Stopwatch.StartNew();
        app.Configuration.Replace(DashboardApp.Endpoints("moving", _pods.Select(p => p.Authority)));
        await Assertions.Expect(EndpointRow(page, _pods[3].Authority)).ToBeVisibleAsync(new() { Timeout = 1000 });
        TimeSpan added = clock.Elapsed;
        clock.Restart();
        app.Configuration.Replace(DashboardApp.Endpoints("moving", _pods.Skip(1).Select(p => p.Authority)));
        await Assertions.Expect(EndpointRow(page, _pods[0].Authority)).ToHaveCountAsync(0, new() { Timeout = 1000 });
        TimeSpan removed = clock.Elapsed;

        Assert.True(added < TimeSpan.FromSeconds(1), $"added endpoint shown after {added.TotalMilliseconds} ms");
        Assert.True(removed < TimeSpan.FromSeconds(1), $"removed endpoint gone after {removed.TotalMilliseconds} ms");
        // The same document all along: pushed, not reloaded.
        Assert.Equal(1, await page.EvaluateAsync<int>("() => window.__navigations"));
        Assert.Equal("true", await page.EvaluateAsync<string>("() => document.body.dataset.rendered"));
    }

    [Fact]
    public async Task A_pod_made_to_fail_is_shown_ejected_with_its_reason_and_the_traffic_chart_matches_the_pods_counters()
    {
        Dictionary<string, string?> config = DashboardApp.Endpoints("payments", _pods.Select(p => p.Authority));
        config["ClientLb:Services:payments:Policy"] = "RoundRobin";
        config["ClientLb:Services:payments:Health:ConsecutiveServerErrors"] = "3";
        config["ClientLb:Services:payments:Health:BaseEjectionTime"] = "00:05:00";
        await using DashboardApp app = await DashboardApp.StartAsync(config);
        HttpClient client = app.CreateClient("http://payments");
        IPage page = await browser.OpenAsync(app.Dashboard);
        for (int i = 0; i < 40; i++)
        {
            (await client.GetAsync("/")).EnsureSuccessStatusCode();
        }
        await ServiceRow(page, "payments.default|http").ClickAsync();

        // Every pick is a request a pod answered (no failures yet): the chart's per-pod counts are the pods' own.
        foreach (TestBackend pod in _pods)
        {
            await Assertions.Expect(page.Locator($"#chart g[data-endpoint='{pod.Authority}']")).ToHaveAttributeAsync("data-picks", pod.Requests.ToString(), new() { Timeout = 3000 });
            await Assertions.Expect(page.Locator($"#chart g[data-endpoint='{pod.Authority}'] text.value")).ToContainTextAsync(pod.Requests + " (");
            await Assertions.Expect(EndpointRow(page, pod.Authority).Locator(".picks")).ToHaveTextAsync(pod.Requests.ToString());
        }
        Assert.Equal(40, _pods.Sum(p => p.Requests));

        // pod-1 answers 503: after three in a row passive health ejects it, and the page says so and why.
        _pods[1].StatusCode = 503;
        for (int i = 0; i < 20; i++)
        {
            (await client.GetAsync("/")).EnsureSuccessStatusCode(); // each 503 is retried on another pod
        }
        ILocator state = EndpointRow(page, _pods[1].Authority).Locator(".state");
        await Assertions.Expect(state).ToContainTextAsync("ejected (server_errors) until", new() { Timeout = 1000 });
        await Assertions.Expect(state).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("state-out"));
        await Assertions.Expect(page.Locator("[data-fact='endpoints']")).ToHaveTextAsync("3 in rotation, 4 eligible of 4, 1 ejected");
        await Assertions.Expect(ServiceRow(page, "payments.default|http")).ToContainTextAsync("1 ejected");

        // Attempts, retries included, still match what each pod counted.
        foreach (TestBackend pod in _pods)
        {
            await Assertions.Expect(page.Locator($"#chart g[data-endpoint='{pod.Authority}']")).ToHaveAttributeAsync("data-picks", pod.Requests.ToString(), new() { Timeout = 3000 });
        }
        await Screenshot(page);
    }

    // The README's picture of the dashboard comes from this test (copied to docs/images/dashboard.png).
    private static async Task Screenshot(IPage page)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new() { Path = Path.Combine(directory, "dashboard.png"), FullPage = false });
    }
}
