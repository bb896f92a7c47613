using System.Diagnostics.Metrics;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Health;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Sources;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Kubernetes.Tests.Infrastructure;

/// <summary>
/// A source for <c>web.default</c> watching a <see cref="FaultyApiServer"/> on the server's fake clock, with its logs,
/// metrics, health check and every status it went through; <see cref="DriveAsync"/> moves the clock until a condition holds.
/// </summary>
public sealed class FaultHarness : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-faulty-").FullName;
    private readonly ILoggerFactory _loggers;
    private readonly MeterListener _listener = new();
    private readonly List<SourceStatus> _statuses = [];
    private long _skipped;
    private IDisposable? _subscription;

    private FaultHarness(FaultyApiServer server)
    {
        Server = server;
        _loggers = LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
    }

    public FaultyApiServer Server { get; }

    public FakeTimeProvider Time => Server.Time;

    public CapturingLoggerProvider Logs { get; } = new();

    public KubernetesEndpointSourceFactory Factory { get; private set; } = null!;

    public IEndpointSource Source { get; private set; } = null!;

    public KubernetesSourceOptions Options { get; private set; } = null!;

    /// <summary>How many objects the <c>clientlb.kubernetes.objects.skipped</c> metric counted.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>Every status the source reported, in order.</summary>
    public IReadOnlyList<SourceStatus> Statuses
    {
        get
        {
            lock (_statuses)
            {
                return [.. _statuses];
            }
        }
    }

    /// <summary>A server with Service <c>web</c> and slice <c>web-1</c> holding 10.0.0.1 and 10.0.0.2, and a source synced to it.</summary>
    public static async Task<FaultHarness> StartAsync(Action<KubernetesSourceOptions>? configure = null, string service = "web", FaultyApiServer? server = null, string? cluster = null)
    {
        server ??= await FaultyApiServer.StartAsync();
        server.SetService("web");
        server.SetSlice("web-1", "web", "10.0.0.1", "10.0.0.2");
        var harness = new FaultHarness(server);
        harness.Options = new KubernetesSourceOptions
        {
            Mode = KubernetesConfigMode.Kubeconfig,
            KubeconfigPath = server.WriteKubeconfig(harness._dir, cluster),
            RequestTimeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(harness.Options);
        var metrics = new KubernetesMetrics();
        harness._listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == metrics.Meter && instrument.Name == "clientlb.kubernetes.objects.skipped")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        harness._listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref harness._skipped, value));
        harness._listener.Start();
        harness.Factory = new KubernetesEndpointSourceFactory(Microsoft.Extensions.Options.Options.Create(harness.Options), null, null, server.Time, harness._loggers, metrics);
        harness.Source = harness.Factory.TryCreate(ClientLb.Names.ServiceName.Parse($"http://{service}.default"))!;
        harness._subscription = harness.Source.Subscribe(s =>
        {
            lock (harness._statuses)
            {
                if (harness._statuses.Count == 0 || !ReferenceEquals(harness._statuses[^1], s.Status))
                {
                    harness._statuses.Add(s.Status);
                }
            }
        });
        harness.Source.Start();
        return harness;
    }

    public HashSet<string> Hosts => [.. Source.Current?.Endpoints.Select(e => e.Host) ?? []];

    public bool Serves(params string[] hosts) => Hosts.SetEquals(hosts);

    /// <summary>
    /// Advances the fake clock in <paramref name="step"/>s (default 100 ms), letting the loops run between steps, until
    /// <paramref name="condition"/> holds; fails after <paramref name="limit"/> of fake time (default 2 minutes).
    /// </summary>
    public async Task DriveAsync(Func<bool> condition, string what, TimeSpan? limit = null, TimeSpan? step = null)
    {
        DateTimeOffset end = Time.GetUtcNow() + (limit ?? TimeSpan.FromMinutes(2));
        using var hung = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            if (Time.GetUtcNow() >= end || hung.IsCancellationRequested)
            {
                throw new TimeoutException($"Timed out waiting for {what}; the source has: {Await.Describe(Source)}; requests: {Server.Hits.Count}");
            }
            Time.Advance(step ?? TimeSpan.FromMilliseconds(100));
            // Lets the loop's continuations and the loopback I/O run before the clock moves on.
            await Task.Delay(2);
        }
    }

    /// <summary>Moves the fake clock by <paramref name="span"/> in steps, letting the loops run.</summary>
    public async Task RunForAsync(TimeSpan span, TimeSpan? step = null)
    {
        DateTimeOffset end = Time.GetUtcNow() + span;
        await DriveAsync(() => Time.GetUtcNow() >= end, $"{span} of fake time", span + TimeSpan.FromSeconds(1), step);
    }

    /// <summary>The source's state from the health check (same options, same clock).</summary>
    public Task<HealthCheckResult> HealthAsync()
    {
        var check = new KubernetesHealthCheck(Factory, Microsoft.Extensions.Options.Options.Create(Options), Time);
        return check.CheckHealthAsync(new HealthCheckContext { Registration = new HealthCheckRegistration("k8s", check, HealthStatus.Unhealthy, null) });
    }

    /// <summary>No log line, status, health text or description holds the URL's password or the user's token.</summary>
    public async Task AssertNoSecretsAsync()
    {
        HealthCheckResult health = await HealthAsync();
        string[] texts = [.. Logs.Lines, Source.Description, Source.Status.LastError?.ToString() ?? "", health.Description ?? "",
            .. Statuses.Select(s => s.LastError?.ToString() ?? "")];
        foreach (string text in texts)
        {
            Assert.DoesNotContain(FaultyApiServer.Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(FaultyApiServer.Token, text, StringComparison.Ordinal);
        }
    }

    /// <summary>Requests per second of fake time for <paramref name="resource"/> from <paramref name="since"/> to now.</summary>
    public double Rate(string resource, DateTimeOffset since) =>
        Server.Count(resource, since) / Math.Max(1, (Time.GetUtcNow() - since).TotalSeconds);

    public async ValueTask DisposeAsync()
    {
        _subscription?.Dispose();
        await Source.DisposeAsync();
        await Factory.DisposeAsync();
        _listener.Dispose();
        _loggers.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
