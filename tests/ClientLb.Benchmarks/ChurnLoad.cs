using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// The churn load test: loopback Kestrel backends, one killed (connections aborted, no graceful drain) and the previous
/// one restarted on its port every second, while workers send idempotent GETs through a ClientLb HttpClient with the
/// default settings. Counts failed requests (the target is 0) and reports throughput and latency percentiles.
/// <c>dotnet run -c Release --project tests/ClientLb.Benchmarks -- churn [seconds=30] [backends=4] [workers=16]</c>.
/// Exit code 1 when any request failed or throughput stayed under 500 requests/s.
/// </summary>
public static class ChurnLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int seconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30;
        int backendCount = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4;
        int workers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 16;

        var backends = new Backend[backendCount];
        for (int i = 0; i < backendCount; i++)
        {
            backends[i] = new Backend(IPAddress.Parse($"127.0.9.{i + 2}"));
            await backends[i].StartAsync();
        }

        IConfigurationRoot config = new ConfigurationBuilder().AddInMemoryCollection(
            backends.Select((b, i) => new KeyValuePair<string, string?>($"ClientLb:Services:churn:Endpoints:{i}", b.Authority))).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(config);
        services.AddHttpClient("churn", c => c.BaseAddress = new Uri("http://churn")).AddClientLb();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("churn");

        // What ClientLb did about it: failed attempts by reason, retries, budget refusals, ejections.
        var counters = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "ClientLb" && instrument.Name is "clientlb.failures" or "clientlb.retries" or "clientlb.retry_budget.exhausted" or "clientlb.ejections" or "clientlb.panics")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                key += tag.Key == "clientlb.reason" ? " " + tag.Value : "";
            }
            lock (counters)
            {
                counters[key] = counters.GetValueOrDefault(key) + value;
            }
        });
        listener.Start();

        var latencies = new List<double>[workers];
        long failed = 0;
        var failures = new Dictionary<string, int>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var watch = Stopwatch.StartNew();
        Task[] load = [.. Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            List<double> mine = latencies[w] = new List<double>(seconds * 1000);
            while (!stop.IsCancellationRequested)
            {
                long start = Stopwatch.GetTimestamp();
                string? error = null;
                try
                {
                    using HttpResponseMessage response = await client.GetAsync("/", CancellationToken.None);
                    if (!response.IsSuccessStatusCode)
                    {
                        error = "status " + (int)response.StatusCode;
                    }
                }
                catch (Exception ex)
                {
                    error = ex.GetType().Name + ": " + ex.Message + (ex.InnerException is { } inner ? " <- " + inner.GetType().Name + ": " + inner.Message : "");
                }
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (error is not null)
                {
                    Interlocked.Increment(ref failed);
                    lock (failures)
                    {
                        failures[error] = failures.GetValueOrDefault(error) + 1;
                    }
                }
            }
        }))];

        // Every second: restart the backend killed a second ago, kill the next one.
        int kills = 0;
        Backend? down = null;
        for (int tick = 0; !stop.IsCancellationRequested; tick++)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            if (down is not null)
            {
                await down.StartAsync();
            }
            down = backends[tick % backendCount];
            await down.KillAsync();
            kills++;
        }
        await Task.WhenAll(load);
        double elapsed = watch.Elapsed.TotalSeconds;
        if (down is not null)
        {
            await down.StartAsync();
        }

        double[] all = [.. latencies.SelectMany(l => l).Order()];
        double Percentile(double p) => all[Math.Min(all.Length - 1, (int)Math.Ceiling(p * all.Length) - 1)];
        double rate = all.Length / elapsed;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"churn: {backendCount} backends, {workers} workers, {elapsed:0.0} s, {kills} kills: {all.Length} requests ({rate:0} req/s), {failed} failed"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"latency ms: p50 {Percentile(0.50):0.00}  p90 {Percentile(0.90):0.00}  p99 {Percentile(0.99):0.00}  p99.9 {Percentile(0.999):0.00}  max {all[^1]:0.00}"));
        foreach ((string error, int count) in failures.OrderByDescending(f => f.Value))
        {
            Console.WriteLine($"  {count} x {error}");
        }
        lock (counters)
        {
            Console.WriteLine("clientlb: " + string.Join(", ", counters.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}")));
        }
        foreach (Backend backend in backends)
        {
            await backend.DisposeAsync();
        }
        return failed == 0 && rate >= 500 ? 0 : 1;
    }

    /// <summary>A Kestrel backend that can be killed and started again on the same address and port.</summary>
    private sealed class Backend(IPAddress address) : IAsyncDisposable
    {
        private WebApplication? _app;
        private int _port;

        public string Authority => $"{address}:{_port}";

        public async Task StartAsync()
        {
            (WebApplication app, string authority) = await LoopbackKestrel.StartAsync(address.ToString(), HttpProtocols.Http1, _port);
            _port = new Uri("http://" + authority).Port;
            _app = app;
        }

        // A cancelled token skips the graceful drain: open connections are aborted, in-flight requests fail.
        public async Task KillAsync()
        {
            WebApplication app = _app!;
            _app = null;
            await app.StopAsync(new CancellationToken(canceled: true));
            await app.DisposeAsync();
        }

        public async ValueTask DisposeAsync()
        {
            if (_app is not null)
            {
                await _app.DisposeAsync();
            }
        }
    }
}
