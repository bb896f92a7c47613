// ClientLb demo. By default: the embedded sandbox cluster, a payment service found through a live EndpointSlice
// watch, scaled and disrupted while one balanced HttpClient sends load, with a live per-pod chart.
// With --static: three Kestrel backends on 127.0.0.2-4 from configuration, one stopped half-way.
// Either way: no root, no cluster, and a summary line at the end.
using System.CommandLine;
using System.Diagnostics;
using ClientLb.Samples.Demo;
using Spectre.Console;

var duration = new Option<double>("--duration") { Description = "How long to send requests, in seconds.", DefaultValueFactory = _ => 10 };
var rps = new Option<int>("--rps") { Description = "Requests per second.", DefaultValueFactory = _ => 200 };
var useStatic = new Option<bool>("--static") { Description = "Balance over three static loopback backends instead of the sandbox cluster." };
duration.Validators.Add(r => { if (r.GetValueOrDefault<double>() is <= 0 or > 3600) { r.AddError("--duration must be between 0 and 3600 seconds."); } });
rps.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 20000) { r.AddError("--rps must be between 1 and 20000."); } });
var root = new RootCommand("ClientLb demo: client-side load balancing, per request, on a sandbox cluster or static backends.") { duration, rps, useStatic };
root.SetAction(async (parse, ct) =>
{
    await using IScenario scenario = parse.GetValue(useStatic) ? await StaticScenario.StartAsync() : await SandboxScenario.StartAsync(ct);
    return await RunAsync(scenario, TimeSpan.FromSeconds(parse.GetValue(duration)), parse.GetValue(rps), ct);
});
return await root.Parse(args).InvokeAsync();

static async Task<int> RunAsync(IScenario scenario, TimeSpan duration, int rps, CancellationToken cancellationToken)
{
    var stats = new Stats();
    AnsiConsole.MarkupLine($"[bold]ClientLb demo[/]: {rps} req/s for {duration.TotalSeconds:0.#} s to {Markup.Escape(scenario.Description)}");
    AnsiConsole.MarkupLine($"during the run: {Markup.Escape(string.Join("; ", scenario.Events.Select(e => $"{e.At:P0} {e.What}")))}");

    Task load = SendLoadAsync(scenario, stats, rps, duration, cancellationToken);
    if (Console.IsOutputRedirected)
    {
        while (!load.IsCompleted)
        {
            await Task.WhenAny(load, Task.Delay(1000, cancellationToken));
            Console.WriteLine(stats.Line(scenario.Label));
        }
    }
    else
    {
        await AnsiConsole.Live(stats.Render(scenario.Label)).StartAsync(async ctx =>
        {
            while (!load.IsCompleted)
            {
                await Task.WhenAny(load, Task.Delay(250, cancellationToken));
                ctx.UpdateTarget(stats.Render(scenario.Label));
            }
        });
    }
    await load;

    Console.WriteLine($"Summary: {stats.Sent} requests sent, {stats.Failed} failed; per endpoint: {string.Join(", ", stats.Counts.Select(kv => $"{kv.Key}={kv.Value}"))}");
    if (stats.LastError is string error)
    {
        Console.WriteLine($"Last failure: {error}");
    }
    return stats.Failed == 0 ? 0 : 1;
}

static async Task SendLoadAsync(IScenario scenario, Stats stats, int rps, TimeSpan duration, CancellationToken cancellationToken)
{
    var clock = Stopwatch.StartNew();
    var inFlight = new List<Task>();
    using var concurrency = new SemaphoreSlim(64);
    TimeSpan interval = TimeSpan.FromSeconds(1.0 / rps);
    var pending = new Queue<(double At, string What, Func<Task> Do)>(scenario.Events.OrderBy(e => e.At));
    var changes = new List<Task>();
    for (long i = 0; clock.Elapsed < duration && !cancellationToken.IsCancellationRequested; i++)
    {
        while (pending.Count > 0 && clock.Elapsed >= duration * pending.Peek().At)
        {
            (_, string what, Func<Task> change) = pending.Dequeue();
            stats.Note($"{clock.Elapsed.TotalSeconds:0.0}s {what}");
            changes.Add(change());
        }
        TimeSpan due = interval * i;
        if (due > clock.Elapsed)
        {
            await Task.Delay(due - clock.Elapsed, cancellationToken);
        }
        await concurrency.WaitAsync(cancellationToken);
        inFlight.Add(SendOneAsync());
        if (inFlight.Count > 1024)
        {
            inFlight.RemoveAll(t => t.IsCompleted);
        }
    }
    await Task.WhenAll(inFlight);
    await Task.WhenAll(changes);

    async Task SendOneAsync()
    {
        try
        {
            using HttpResponseMessage response = await scenario.Client.GetAsync("/pay", cancellationToken);
            stats.Record(response.IsSuccessStatusCode ? (await response.Content.ReadAsStringAsync(cancellationToken)).Trim() : null,
                response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or ClientLb.Balancing.NoEndpointsException)
        {
            stats.Record(null, ex.Message);
        }
        finally
        {
            concurrency.Release();
        }
    }
}
