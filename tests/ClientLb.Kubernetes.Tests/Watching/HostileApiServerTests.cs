using System.Text;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Sources;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ClientLb.Kubernetes.Tests.Watching;

/// <summary>
/// The watch loop against an API server that answers what a real one may under overload, bugs, proxies or attack. Each
/// case checks: the loop survives (it reaches the final truth afterwards), a persistent fault costs the server at most
/// 2 requests per second per watch after its first 10 s (on the clock the loop waits on), the last known good endpoints
/// are served meanwhile, the error names the cause, and no message holds the URL's password or the token.
/// </summary>
public sealed class HostileApiServerTests
{
    private static readonly string[] Before = ["10.0.0.1", "10.0.0.2"];

    /// <summary>
    /// Syncs, applies <paramref name="fault"/> for <paramref name="duration"/> of fake time while the truth changes, checks
    /// the bounds, then lifts the fault and waits for the final truth. Returns the harness for more checks.
    /// </summary>
    private static async Task<FaultHarness> UnderFaultAsync(Func<ApiHit, HttpContext, Task<bool>> fault, string? cause, TimeSpan? duration = null,
        Action<KubernetesSourceOptions>? configure = null, double maxRate = 2, bool relist = false, string[]? during = null)
    {
        FaultHarness h = await FaultHarness.StartAsync(configure);
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the first truth");
        DateTimeOffset start = h.Time.GetUtcNow();
        h.Server.Fault = fault;
        if (relist)
        {
            // The watches' versions expire: the next step is a list.
            h.Server.Compact();
        }
        // Open watches end so the next requests meet the fault; then the change the client must not see while it lasts.
        h.Server.EndWatches();
        h.Server.SetSlice("web-1", "web", "10.0.0.3");
        await h.RunForAsync(duration ?? TimeSpan.FromSeconds(60));

        foreach (string resource in (string[])["endpointslices", "services"])
        {
            double rate = h.Rate(resource, start + TimeSpan.FromSeconds(10));
            Assert.True(rate <= maxRate, $"{resource}: {rate:0.##} requests/s after the first 10 s of the fault ({h.Server.Count(resource, start)} in all)");
        }
        Assert.True(h.Serves(during ?? Before), "last known good: " + Await.Describe(h.Source));
        if (cause is not null)
        {
            Assert.Contains(h.Statuses, s => s.LastError?.Message.Contains(cause, StringComparison.Ordinal) == true);
        }

        h.Server.Fault = null;
        h.Server.SetSlice("web-1", "web", "10.0.0.4");
        await h.DriveAsync(() => h.Serves("10.0.0.4") && h.Source.Status.IsHealthy, "the final truth after the fault");
        await h.AssertNoSecretsAsync();
        return h;
    }

    private static Func<ApiHit, HttpContext, Task<bool>> Always(Func<ApiHit, HttpContext, Task> answer) => async (hit, ctx) =>
    {
        await answer(hit, ctx);
        return true;
    };

    private static Func<ApiHit, HttpContext, Task<bool>> Watches(Func<HttpContext, Task> answer) => async (hit, ctx) =>
    {
        if (!hit.Watch)
        {
            return false;
        }
        await answer(ctx);
        return true;
    };

    [Fact]
    public async Task A_retry_after_of_a_hundred_days_is_clamped_and_the_loop_lives_on()
    {
        // Defect 1: Task.Delay threw for a Retry-After past 49.7 days and the loop died for good.
        await using FaultHarness h = await UnderFaultAsync(
            Always((_, ctx) => FaultyApiServer.AnswerAsync(ctx, 429, "TooManyRequests", "slow down", retryAfter: "8640000")), "429");
        Assert.DoesNotContain(h.Logs.Lines, l => l.Contains("ArgumentOutOfRange", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_retry_after_of_a_day_waits_no_longer_than_the_maximum_reconnect_delay()
    {
        // Defect 6: a wait of 1 day 3 hours was scheduled.
        await using FaultHarness h = await FaultHarness.StartAsync();
        await h.DriveAsync(() => h.Serves(Before), "the first truth");
        h.Server.Fault = Always((_, ctx) => FaultyApiServer.AnswerAsync(ctx, 503, "ServiceUnavailable", "overloaded", retryAfter: "97200"));
        h.Server.EndWatches();
        await h.DriveAsync(() => h.Source.Status.LastError is not null, "the 503 to be reported");
        int asked = h.Server.Hits.Count;
        // The next request comes after the maximum delay (30 s; the limit leaves room for a loaded machine), not in 27 hours.
        await h.DriveAsync(() => h.Server.Hits.Count > asked, "the next request", TimeSpan.FromSeconds(90));
        h.Server.Fault = null;
        h.Server.SetSlice("web-1", "web", "10.0.0.4");
        await h.DriveAsync(() => h.Serves("10.0.0.4") && h.Source.Status.IsHealthy, "the final truth", TimeSpan.FromSeconds(120));
        await h.AssertNoSecretsAsync();
    }

    [Fact]
    public async Task Error_410_events_on_every_watch_back_off()
    {
        // Defect 2: no backoff after ERROR events with code 410 (about 1,500 list+watch requests per second).
        await using FaultHarness h = await UnderFaultAsync(
            Watches(ctx => FaultyApiServer.StreamAsync(ctx, [FaultyApiServer.Event("ERROR", FaultyApiServer.Status(410, "Expired", "too old resource version"))])),
            "410 Gone", during: ["10.0.0.3"]); // each list that precedes a 410 is the truth
    }

    [Fact]
    public async Task Connection_resets_back_off()
    {
        // Defect 2: no backoff after connection resets.
        await using FaultHarness h = await UnderFaultAsync(Watches(ctx =>
        {
            ctx.Abort();
            return Task.CompletedTask;
        }), "cannot reach the API server");
    }

    [Fact]
    public async Task An_error_body_of_a_quarter_gigabyte_is_read_only_up_to_64_KB()
    {
        // Defect 3: error bodies were read whole (a 1.5 GB body took the process to 7.7 GB).
        long largest = 0;
        var sizes = new List<string>();
        await using FaultHarness h = await UnderFaultAsync(Always(async (hit, ctx) =>
        {
            ctx.Response.StatusCode = 500;
            byte[] chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
            long written = 0;
            try
            {
                while (written < 256L * 1024 * 1024)
                {
                    // Kestrel discards writes once the client is gone, and says so through RequestAborted on the thread pool:
                    // yield so that news arrives before counting more. Through the pool's global (FIFO) queue: Task.Yield
                    // queues to this worker's local queue, which it pops first, and on a busy machine the abort notice
                    // once waited behind 256 MB of discarded writes.
                    await Task.Factory.StartNew(static () => { }, CancellationToken.None, TaskCreationOptions.PreferFairness, TaskScheduler.Default);
                    ctx.RequestAborted.ThrowIfCancellationRequested();
                    await ctx.Response.Body.WriteAsync(chunk, ctx.RequestAborted);
                    await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                    written += chunk.Length;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
            InterlockedMax(ref largest, written);
            lock (sizes)
            {
                sizes.Add($"{hit.Resource} watch={hit.Watch}: {written:N0}");
            }
        }), "500");
        // What the server could push before the client hung up: the 64 KB read plus what sockets buffer.
        Assert.True(largest < 32L * 1024 * 1024, $"the server wrote {largest:N0} bytes of one error body: " + string.Join("; ", sizes));
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while ((seen = Interlocked.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static Func<ApiHit, HttpContext, Task<bool>> Pages(Func<string?, string?> next) => async (hit, ctx) =>
    {
        if (hit.Watch || hit.Resource != "endpointslices")
        {
            return false;
        }
        string? token = next(hit.Continue);
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync($$"""{"kind":"List","metadata":{"resourceVersion":"5"{{(token is null ? "" : $",\"continue\":\"{token}\"")}}},"items":[]}""");
        return true;
    };

    [Fact]
    public async Task A_list_that_repeats_its_continue_token_is_an_error_not_an_endless_list()
    {
        // Defect 4: the same continue token paged forever (1.9 GB) while the status said healthy.
        await using FaultHarness h = await UnderFaultAsync(Pages(_ => "same"), "repeats the continue token", relist: true);
    }

    [Fact]
    public async Task A_list_whose_continue_tokens_cycle_is_an_error()
    {
        await using FaultHarness h = await UnderFaultAsync(Pages(current => current switch { null => "a", "a" => "b", _ => "a" }), "repeats the continue token", relist: true);
    }

    [Fact]
    public async Task A_list_that_pages_on_and_on_stops_at_the_page_cap()
    {
        int n = 0;
        // Each attempt costs the cap in pages; the attempts themselves back off like every failure.
        await using FaultHarness h = await UnderFaultAsync(Pages(_ => "page-" + Interlocked.Increment(ref n)), "still paging after 1,000 pages",
            TimeSpan.FromSeconds(60), maxRate: 2 * KubernetesApiClient.MaxListPages, relist: true);
        IReadOnlyList<ApiHit> firstPages = [.. h.Server.Hits.Where(x => x.Resource == "endpointslices" && !x.Watch && x.Continue is null)];
        Assert.True(firstPages.Count <= 12, $"{firstPages.Count} list attempts");
    }

    [Fact]
    public async Task Http_410_on_the_watch_request_relists_instead_of_retrying_the_stale_version()
    {
        // Defect 5: HTTP 410 on the watch request was retried from the same resourceVersion forever.
        await using FaultHarness h = await FaultHarness.StartAsync();
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the first truth");
        // The source is healthy once it has listed; its first watches must be open (past the fault check) before the fault
        // comes, or the first watch itself meets the 410 (once in a loaded run) and there is no second one to count.
        await h.DriveAsync(() => h.Server.OpenWatches("endpointslices") == 1 && h.Server.OpenWatches("services") == 1, "the watches from the first list");
        string stale = h.Server.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        h.Server.Fault = async (hit, ctx) =>
        {
            if (!hit.Watch || hit.ResourceVersion != stale)
            {
                return false;
            }
            await FaultyApiServer.AnswerAsync(ctx, 410, "Expired", "too old resource version");
            return true;
        };
        h.Server.EndWatches();
        h.Server.SetService("web");
        h.Server.SetSlice("web-1", "web", "10.0.0.3");
        await h.DriveAsync(() => h.Serves("10.0.0.3") && h.Source.Status.IsHealthy, "the truth through a fresh list");
        // The first watch from it, and the one refused: no other.
        Assert.True(h.Server.Hits.Count(x => x.Watch && x.ResourceVersion == stale && x.Resource == "endpointslices") == 2,
            string.Join("; ", h.Server.Hits.Select(x => $"{x.Resource} watch={x.Watch} rv={x.ResourceVersion}")));
        Assert.Equal(2, h.Server.Hits.Count(x => !x.Watch && x.Resource == "endpointslices"));
        await h.AssertNoSecretsAsync();
    }

    [Theory]
    [InlineData("{\"addresses\":null,\"conditions\":{\"ready\":true}}", "endpoints[0] has addresses: null")]
    [InlineData("null", "endpoints[0] is null")]
    [InlineData("{\"addresses\":[1,2],\"conditions\":{\"ready\":true}}", "cannot be decoded")]
    [InlineData("{\"addresses\":[\"10.0.0.9\"],\"conditions\":{\"ready\":\"yes\"}}", "cannot be decoded")]
    public async Task A_poison_slice_in_a_watch_is_skipped_once_logged_and_counted_and_never_replayed(string endpoint, string problem)
    {
        // Defect 8: addresses: null or a null endpoint threw NullReferenceException, and the event was replayed forever.
        await using FaultHarness h = await FaultHarness.StartAsync();
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the first truth");
        DateTimeOffset start = h.Time.GetUtcNow();
        h.Server.SetRawSlice("web-bad", "web",
            $$$"""{"metadata":{"name":"web-bad","namespace":"default","resourceVersion":"{rv}","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[{{{endpoint}}}],"ports":[{"name":"http","port":8080}]}""");
        h.Server.SetSlice("web-1", "web", "10.0.0.3");
        await h.DriveAsync(() => h.Serves("10.0.0.3"), "the change after the poison slice");
        // Watches resume past the poison object: it does not come back.
        for (int i = 0; i < 3; i++)
        {
            h.Server.EndWatches();
            await h.RunForAsync(TimeSpan.FromSeconds(15));
        }
        h.Server.SetSlice("web-1", "web", "10.0.0.4");
        await h.DriveAsync(() => h.Serves("10.0.0.4") && h.Source.Status.IsHealthy, "the final truth");
        string[] skipped = [.. h.Logs.Lines.Where(l => l.Contains("skipped default/web-bad", StringComparison.Ordinal))];
        Assert.Single(skipped);
        Assert.Contains(problem, skipped[0]);
        Assert.Equal(1, h.Skipped);
        Assert.True(h.Rate("endpointslices", start) <= 2);
        Assert.All(h.Statuses.Where(s => s.LastError is not null), s => Assert.DoesNotContain("NullReference", s.LastError!.ToString()));
        await h.AssertNoSecretsAsync();
    }

    [Fact]
    public async Task A_poison_slice_in_a_list_is_skipped_and_the_rest_is_served()
    {
        FaultyApiServer server = await FaultyApiServer.StartAsync();
        server.SetRawSlice("web-bad", "web",
            """{"metadata":{"name":"web-bad","namespace":"default","resourceVersion":"{rv}","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[{"addresses":[7]}]}""");
        await using FaultHarness h = await FaultHarness.StartAsync(server: server);
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the good slice's endpoints");
        Assert.Contains(h.Logs.Lines, l => l.Contains("skipped default/web-bad", StringComparison.Ordinal) && l.Contains("cannot be decoded", StringComparison.Ordinal));
        Assert.Equal(1, h.Skipped);
    }

    [Fact]
    public async Task The_status_stays_failing_through_reconnects_while_every_watch_fails_and_the_health_check_says_the_same()
    {
        // Defect 9: the status flipped healthy/failing at each reconnect (`clientlb watch` showed healthy while every request failed).
        await using FaultHarness h = await FaultHarness.StartAsync();
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the first truth");
        h.Server.Fault = async (hit, ctx) =>
        {
            if (hit.Watch)
            {
                // Accepted, then cut before any event.
                await ctx.Response.StartAsync();
                await ctx.Response.Body.FlushAsync();
                ctx.Abort();
                return true;
            }
            await FaultyApiServer.AnswerAsync(ctx, 500, "InternalError", "etcd leader changed");
            return true;
        };
        h.Server.EndWatches();
        await h.DriveAsync(() => h.Source.Status.LastError is not null, "the failure");
        int failedAt = h.Statuses.Count - 1;
        await h.RunForAsync(TimeSpan.FromSeconds(90));
        Assert.All(h.Statuses.Skip(failedAt), s => Assert.False(s.IsHealthy, "a healthy status while every request fails"));
        SourceStatus status = h.Source.Status;
        HealthCheckResult health = await h.HealthAsync();
        // The same words as `clientlb watch` ("failing since <when>: <reason>"), from the same state.
        Assert.Contains("failing since ", health.Description);
        Assert.Contains($": {status.LastError!.Message} (stale for", health.Description);
        Assert.True(h.Serves(Before));

        h.Server.Fault = null;
        await h.DriveAsync(() => h.Source.Status.IsHealthy, "health after the fault");
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await h.HealthAsync()).Status);
        await h.AssertNoSecretsAsync();
    }

    [Fact]
    public async Task An_event_over_the_size_limit_ends_the_watch_with_an_error_naming_the_object()
    {
        // Defect 10: one 60 MB event kept 240 MB alive.
        await using FaultHarness h = await FaultHarness.StartAsync(o => o.MaxEventBytes = 1024 * 1024);
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the first truth");
        await h.DriveAsync(() => h.Server.OpenWatches("endpointslices") > 0, "the slice watch");
        string big = FaultyApiServer.Event("MODIFIED",
            $$$"""{"metadata":{"name":"web-huge","namespace":"default","resourceVersion":"99999","labels":{"kubernetes.io/service-name":"web"},"annotations":{"a":"{{{new string('x', 2 * 1024 * 1024)}}}"}},"addressType":"IPv4","endpoints":[]}""");
        h.Server.Send("endpointslices", big);
        await h.DriveAsync(() => h.Source.Status.LastError is not null, "the error");
        string message = h.Source.Status.LastError!.Message;
        Assert.Contains("longer than 1,048,576 bytes", message);
        Assert.Contains("default/web-huge", message);
        Assert.True(h.Serves(Before));
        h.Server.SetSlice("web-1", "web", "10.0.0.4");
        await h.DriveAsync(() => h.Serves("10.0.0.4") && h.Source.Status.IsHealthy, "the final truth");
        await h.AssertNoSecretsAsync();
    }

    [Fact]
    public void Decoded_objects_keep_only_the_fields_ClientLb_reads()
    {
        // Defect 10: annotations and fields ClientLb never reads were retained.
        string line = FaultyApiServer.Event("MODIFIED",
            $$$"""{"metadata":{"name":"web-1","namespace":"default","resourceVersion":"7","uid":"u","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"kubernetes.io/service-name":"web"},"annotations":{"big":"{{{new string('x', 1024 * 1024)}}}"},"managedFields":[{"manager":"{{{new string('y', 100_000)}}}"}]},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true},"deprecatedTopology":{"k":"{{{new string('z', 100_000)}}}"}}],"ports":[{"name":"http","port":8080}]}""");
        WatchEvent<EndpointSlice> e = KubernetesApiClient.ParseEvent(line, KubernetesJsonContext.Default.WatchEventEndpointSlice, "test");
        string kept = System.Text.Json.JsonSerializer.Serialize(e.Object!, KubernetesJsonContext.Default.EndpointSlice);
        Assert.True(kept.Length < 1024, kept.Length + " characters kept: " + kept[..Math.Min(300, kept.Length)]);
        Assert.Equal(WatchLines.MaxLineBytes, new KubernetesSourceOptions().MaxEventBytes);
        Assert.Equal(16 * 1024 * 1024, WatchLines.MaxLineBytes);
    }

    [Fact]
    public async Task A_password_in_the_server_url_never_appears_in_descriptions_logs_or_errors()
    {
        // Defect 11 (every case here checks it too): https://user:pass@host showed up in descriptions and errors.
        await using FaultHarness h = await UnderFaultAsync(Always((_, ctx) =>
        {
            ctx.Abort();
            return Task.CompletedTask;
        }), "cannot reach the API server");
        Assert.Contains("127.0.0.1", h.Source.Description);
    }

    [Fact]
    public async Task A_watch_that_stalls_sending_nothing_is_renewed_by_the_client()
    {
        await using FaultHarness h = await UnderFaultAsync(Watches(async ctx =>
        {
            await ctx.Response.StartAsync();
            await ctx.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { });
        }), "sent nothing", TimeSpan.FromMinutes(3), o => o.WatchTimeout = TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_truncated_json_line_fails_the_watch_and_it_resumes()
    {
        await using FaultHarness h = await UnderFaultAsync(
            Watches(ctx => FaultyApiServer.StreamAsync(ctx, ["""{"type":"MODIFIED","object":{"metadata":{"name":"web-1","na"""])), "not valid JSON");
    }

    [Fact]
    public async Task A_stream_cut_in_the_middle_of_an_event_fails_the_watch_and_it_resumes()
    {
        await using FaultHarness h = await UnderFaultAsync(
            Watches(ctx => FaultyApiServer.StreamAsync(ctx, ["""{"type":"MODIFIED","object":{"metadata":{"name":"web-1","na"""], lastUnterminated: true)),
            "in the middle of an event");
    }

    [Fact]
    public async Task Bookmarks_without_a_resource_version_keep_the_one_the_watch_had()
    {
        string? resumedFrom = null;
        await using FaultHarness h = await FaultHarness.StartAsync();
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the first truth");
        string current = h.Server.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        int lists = h.Server.Hits.Count(x => !x.Watch);
        h.Server.Fault = async (hit, ctx) =>
        {
            if (!hit.Watch || hit.Resource != "endpointslices" || resumedFrom is not null)
            {
                return false;
            }
            resumedFrom = hit.ResourceVersion;
            await FaultyApiServer.StreamAsync(ctx, ["""{"type":"BOOKMARK","object":{"kind":"EndpointSlice","metadata":{}}}""", """{"type":"BOOKMARK","object":null}""",
                """{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":null}}}"""]);
            return true;
        };
        h.Server.EndWatches();
        await h.DriveAsync(() => resumedFrom is not null, "the bookmarks");
        h.Server.SetSlice("web-1", "web", "10.0.0.4");
        await h.DriveAsync(() => h.Serves("10.0.0.4") && h.Source.Status.IsHealthy, "the final truth");
        // The next watch resumed from the version before the bookmarks, with no re-list.
        Assert.Equal(current, resumedFrom);
        Assert.Equal(lists, h.Server.Hits.Count(x => !x.Watch));
        Assert.All(h.Server.Hits.Where(x => x.Watch), x => Assert.False(string.IsNullOrEmpty(x.ResourceVersion)));
        await h.AssertNoSecretsAsync();
    }

    [Fact]
    public async Task Http_429_with_retry_after_waits_that_long()
    {
        await using FaultHarness h = await UnderFaultAsync(
            Always((_, ctx) => FaultyApiServer.AnswerAsync(ctx, 429, "TooManyRequests", "storage is (re)initializing", retryAfter: "5")), "429", maxRate: 0.5);
        List<DateTimeOffset> slices = [.. h.Server.Hits.Where(x => x.Resource == "endpointslices" && x.Watch).Select(x => x.At)];
        // Between two refused requests of one watch: at least the 5 s the server asked for.
        Assert.Contains(slices.Zip(slices.Skip(1)), p => p.Second - p.First >= TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Http_429_without_retry_after_backs_off_exponentially()
    {
        await using FaultHarness h = await UnderFaultAsync(
            Always((_, ctx) => FaultyApiServer.AnswerAsync(ctx, 429, "TooManyRequests", "too many requests")), "429");
    }

    [Fact]
    public async Task A_storm_of_500s_backs_off_and_the_truth_arrives_after_it()
    {
        await using FaultHarness h = await UnderFaultAsync(
            Always((_, ctx) => FaultyApiServer.AnswerAsync(ctx, 500, "InternalError", "etcdserver: request timed out")), "etcdserver: request timed out",
            TimeSpan.FromMinutes(3), maxRate: 0.2);
    }

    [Fact]
    public async Task A_namespace_wide_watch_moves_a_slice_whose_service_name_label_changes()
    {
        FaultyApiServer server = await FaultyApiServer.StartAsync();
        server.SetService("api");
        await using FaultHarness h = await FaultHarness.StartAsync(o => o.NamespaceWatchThreshold = 1, server: server);
        await using IEndpointSource api = h.Factory.TryCreate(ClientLb.Names.ServiceName.Parse("http://api.default"))!;
        api.Start();
        await h.DriveAsync(() => h.Serves(Before) && api.Current is not null, "both services");
        Assert.Empty(api.Current!.Endpoints);

        h.Server.SetSlice("web-1", "api", "10.0.0.1", "10.0.0.2");
        await h.DriveAsync(() => api.Current!.Endpoints.Length == 2 && h.Hosts.Count == 0, "the slice to move from web to api");
        h.Server.SetSlice("web-1", "web", "10.0.0.5");
        await h.DriveAsync(() => api.Current!.Endpoints.Length == 0 && h.Serves("10.0.0.5"), "the slice to move back");
        await h.AssertNoSecretsAsync();
    }

    [Fact]
    public async Task Tls_server_name_and_the_servers_intermediates_are_used_and_a_wrong_name_certificate_is_named()
    {
        // Defect 7: tls-server-name was ignored, intermediates the server sent were not used, TLS failures were opaque.
        var pki = new TestPki();
        FaultyApiServer server = await FaultyApiServer.StartAsync(pki.Server("api.cluster.test"));
        await using FaultHarness h = await FaultHarness.StartAsync(server: server,
            cluster: $"certificate-authority-data: {pki.RootPemBase64}\ntls-server-name: api.cluster.test");
        await h.DriveAsync(() => h.Serves(Before) && h.Source.Status.IsHealthy, "the first truth over TLS with tls-server-name and an intermediate");

        // The server now presents a certificate for another name: every new connection is refused, by name.
        DateTimeOffset start = h.Time.GetUtcNow();
        server.Tls = pki.Server("other.cluster.test");
        h.Server.EndWatches();
        h.Server.SetSlice("web-1", "web", "10.0.0.3");
        await h.RunForAsync(TimeSpan.FromSeconds(60));
        // Two watches (slices and services), each refused at the handshake: at most 2 attempts per second each after 10 s.
        double handshakes = server.Handshakes(start + TimeSpan.FromSeconds(10)) / (h.Time.GetUtcNow() - start - TimeSpan.FromSeconds(10)).TotalSeconds;
        Assert.True(handshakes <= 2 * 2, $"{handshakes:0.##} handshakes/s");
        Assert.True(h.Serves(Before), "last known good: " + Await.Describe(h.Source));
        Assert.Contains(h.Statuses, s => s.LastError?.Message.Contains("TLS: the server's certificate (CN=other.cluster.test) is not valid for the name 'api.cluster.test'", StringComparison.Ordinal) == true);

        server.Tls = pki.Server("api.cluster.test");
        h.Server.SetSlice("web-1", "web", "10.0.0.4");
        await h.DriveAsync(() => h.Serves("10.0.0.4") && h.Source.Status.IsHealthy, "the final truth once the right certificate is back");
        await h.AssertNoSecretsAsync();
    }

    [Fact]
    public async Task A_certificate_that_does_not_name_the_server_is_refused_naming_the_host()
    {
        var pki = new TestPki();
        FaultyApiServer server = await FaultyApiServer.StartAsync(pki.Server("api.cluster.test"));
        // No tls-server-name: the certificate must name 127.0.0.1, which it does not.
        await using FaultHarness h = await FaultHarness.StartAsync(server: server, cluster: $"certificate-authority-data: {pki.RootPemBase64}");
        await h.DriveAsync(() => h.Source.Status.LastError is not null, "the TLS refusal");
        Assert.Contains("TLS: the server's certificate (CN=api.cluster.test) is not valid for the name '127.0.0.1'", h.Source.Status.LastError!.Message);
        DateTimeOffset start = h.Time.GetUtcNow();
        await h.RunForAsync(TimeSpan.FromSeconds(30));
        // Backoff 1, 2, 4, 8, 16 s for each of the two watches.
        Assert.True(server.Handshakes(start) <= 14, $"{server.Handshakes(start)} handshakes in 30 s");
        await h.AssertNoSecretsAsync();
    }
}
