// ClientLb demo: three real Kestrel backends on 127.0.0.2-4, one HttpClient balanced by ClientLb,
// a live per-endpoint chart, one backend stopped half-way, and a summary. No root, no cluster.
using System.CommandLine;
using System.Diagnostics;
using ClientLb.Samples.Demo;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

var duration = new Option<double>("--duration") { Description = "How long to send requests, in seconds.", DefaultValueFactory = _ => 10 };
var rps = new Option<int>("--rps") { Description = "Requests per second.", DefaultValueFactory = _ => 200 };
duration.Validators.Add(r => { if (r.GetValueOrDefault<double>() is <= 0 or > 3600) { r.AddError("--duration must be between 0 and 3600 seconds."); } });
rps.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 20000) { r.AddError("--rps must be between 1 and 20000."); } });
var root = new RootCommand("ClientLb demo: client-side load balancing over three loopback Kestrel backends.") { duration, rps };
root.SetAction((parse, ct) => RunAsync(TimeSpan.FromSeconds(parse.GetValue(duration)), parse.GetValue(rps), ct));
return await root.Parse(args).InvokeAsync();

static async Task<int> RunAsync(TimeSpan duration, int rps, CancellationToken cancellationToken)
{
    Backend[] backends =
    [
        await Backend.StartAsync("pod-a", "127.0.0.2"),
        await Backend.StartAsync("pod-b", "127.0.0.3"),
        await Backend.StartAsync("pod-c", "127.0.0.4"),
    ];
    try
    {
        // The app's configuration names the service and its endpoints; ClientLb reads it.
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(
            backends.Select((b, i) => new KeyValuePair<string, string?>($"ClientLb:Services:payments:Endpoints:{i}", b.Authority))).Build();
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payments")).AddClientLb();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("payments");

        var stats = new Stats(backends.Select(b => b.Name));
        Backend victim = backends[1];
        AnsiConsole.MarkupLine($"[bold]ClientLb demo[/]: {rps} req/s for {duration.TotalSeconds:0.#} s to [blue]http://payments[/] over {string.Join(", ", backends.Select(b => $"{b.Name} ({b.Authority})"))}; {victim.Name} stops half-way.");

        Task load = SendLoadAsync(client, stats, rps, duration, victim, cancellationToken);
        if (Console.IsOutputRedirected)
        {
            while (!load.IsCompleted)
            {
                await Task.WhenAny(load, Task.Delay(1000, cancellationToken));
                Console.WriteLine(stats.Line());
            }
        }
        else
        {
            await AnsiConsole.Live(stats.Render(victim)).StartAsync(async ctx =>
            {
                while (!load.IsCompleted)
                {
                    await Task.WhenAny(load, Task.Delay(250, cancellationToken));
                    ctx.UpdateTarget(stats.Render(victim));
                }
            });
        }
        await load;

        Console.WriteLine($"Summary: {stats.Sent} requests sent, {stats.Failed} failed; per endpoint: {string.Join(", ", stats.Counts.Select(kv => $"{kv.Key}={kv.Value}"))}");
        return stats.Failed == 0 ? 0 : 1;
    }
    finally
    {
        foreach (Backend backend in backends)
        {
            await backend.DisposeAsync();
        }
    }
}

static async Task SendLoadAsync(HttpClient client, Stats stats, int rps, TimeSpan duration, Backend victim, CancellationToken cancellationToken)
{
    var clock = Stopwatch.StartNew();
    var inFlight = new List<Task>();
    using var concurrency = new SemaphoreSlim(64);
    TimeSpan interval = TimeSpan.FromSeconds(1.0 / rps);
    Task? stopping = null;
    for (long i = 0; clock.Elapsed < duration && !cancellationToken.IsCancellationRequested; i++)
    {
        if (stopping is null && clock.Elapsed >= duration / 2)
        {
            stopping = victim.StopAsync();
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
    if (stopping is not null)
    {
        await stopping;
    }

    async Task SendOneAsync()
    {
        try
        {
            using HttpResponseMessage response = await client.GetAsync("/pay", cancellationToken);
            stats.Record(response.IsSuccessStatusCode ? response.Headers.GetValues("x-backend").First() : null);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            stats.Record(null);
        }
        finally
        {
            concurrency.Release();
        }
    }
}
