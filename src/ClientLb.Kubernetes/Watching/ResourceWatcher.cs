using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// One list+watch loop, as client-go's reflector runs it: list, then watch from the list's resourceVersion with
/// bookmarks; resume from the last seen resourceVersion when a watch ends; re-list on 410 Gone and every resync
/// interval; after failures reconnect with jittered exponential backoff (Polly), honouring Retry-After.
/// </summary>
internal sealed class ResourceWatcher<T>
{
    private const int ShortEmptyWatchesBeforeBackoff = 3;
    private static readonly TimeSpan WatchGrace = TimeSpan.FromSeconds(30);

    private readonly string _what;
    private readonly Func<CancellationToken, Task<KubernetesList<T>>> _list;
    private readonly Func<string, TimeSpan, CancellationToken, Task<IWatchStream<T>>> _watch;
    private readonly Func<T, string?> _resourceVersion;
    private readonly IWatchSink<T> _sink;
    private readonly WatchSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KubernetesMetrics _metrics;
    private readonly ResiliencePipeline _pipeline;
    private string? _version;
    private DateTimeOffset _nextResync;
    private int _failures;
    private int _shortEmptyWatches;

    public ResourceWatcher(string what, Func<CancellationToken, Task<KubernetesList<T>>> list, Func<string, TimeSpan, CancellationToken, Task<IWatchStream<T>>> watch,
        Func<T, string?> resourceVersion, IWatchSink<T> sink, WatchSettings settings, TimeProvider time, ILogger logger, KubernetesMetrics metrics)
    {
        _what = what;
        _list = list;
        _watch = watch;
        _resourceVersion = resourceVersion;
        _sink = sink;
        _settings = settings;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(static ex => ex is not OperationCanceledException),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = settings.ReconnectDelay,
                MaxDelay = settings.MaxReconnectDelay,
                MaxRetryAttempts = int.MaxValue,
                // 429 and some 5xx say when to come back: never earlier than that.
                DelayGenerator = static args => ValueTask.FromResult<TimeSpan?>(
                    args.Outcome.Exception is KubernetesApiException { RetryAfter: TimeSpan after } && after > TimeSpan.Zero ? after : null),
                OnRetry = args =>
                {
                    _failures++;
                    Exception error = args.Outcome.Exception!;
                    Log.WatchFailed(_logger, _what, _failures, args.RetryDelay, error.Message);
                    _metrics.WatchFailed(_what);
                    _sink.OnFailure(error, _failures, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>The resourceVersion the next watch resumes from; null when the next step is a list.</summary>
    public string? ResourceVersion => _version;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _pipeline.ExecuteAsync(static (self, token) => new ValueTask(self.RunOnceAsync(token)), this, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One list (when needed) and one watch. Returns to reconnect at once; throws to back off.</summary>
    private async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (_version is null || now >= _nextResync)
        {
            string reason = _version is null ? (_nextResync == default ? "initial" : "expired") : "resync";
            KubernetesList<T> list = await _list(stoppingToken).ConfigureAwait(false);
            _version = list.Metadata.ResourceVersion
                ?? throw new InvalidDataException($"list {_what}: the server's list has no metadata.resourceVersion to watch from");
            _nextResync = _time.GetUtcNow() + Jitter(_settings.ResyncInterval, 0.1);
            _metrics.Relisted(_what, reason);
            Log.Listed(_logger, _what, list.Items.Count, _version, reason);
            Recovered();
            _sink.OnListed(list.Items);
        }

        TimeSpan timeout = Jitter(_settings.WatchTimeout, 0.5);
        using var resync = new CancellationTokenSource(Max(_nextResync - _time.GetUtcNow(), TimeSpan.FromMilliseconds(1)), _time);
        // The server ends the watch at timeoutSeconds; a connection that died silently (no RST, HTTP/1.1 without pings)
        // would never end, so the client gives up a little later on its own.
        using var deadline = new CancellationTokenSource(timeout + WatchGrace, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, resync.Token, deadline.Token);
        DateTimeOffset started = _time.GetUtcNow();
        int events = 0;
        IWatchStream<T> stream = await _watch(_version, timeout, stoppingToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            Recovered();
            try
            {
                await foreach (WatchEvent<T> e in stream.ReadAsync(linked.Token).ConfigureAwait(false))
                {
                    events++;
                    if (!Handle(e))
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (resync.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
            {
                return; // the next round re-lists
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
            {
                _metrics.WatchRestarted(_what, "deadline");
                return; // resume from the last resourceVersion on a fresh request
            }
            catch (Exception ex) when (events > 0 && ex is IOException or HttpRequestException)
            {
                // The stream broke after making progress: resume from the last resourceVersion at once.
                _metrics.WatchRestarted(_what, "broken");
                Log.WatchBroken(_logger, _what, _version, ex.Message);
                return;
            }
        }
        _metrics.WatchRestarted(_what, "ended");
        // A server that accepts watches and ends them at once must not make us spin.
        _shortEmptyWatches = events == 0 && _time.GetUtcNow() - started < TimeSpan.FromSeconds(1) ? _shortEmptyWatches + 1 : 0;
        if (_shortEmptyWatches >= ShortEmptyWatchesBeforeBackoff)
        {
            _shortEmptyWatches = 0;
            throw new IOException($"watch {_what}: the server ended {ShortEmptyWatchesBeforeBackoff} watches in a row at once without events");
        }
    }

    /// <summary>Applies one event; false when the watch must end (410: re-list next).</summary>
    private bool Handle(WatchEvent<T> e)
    {
        switch (e.Type)
        {
            case WatchEventTypes.Added:
            case WatchEventTypes.Modified:
                _sink.OnUpsert(e.Object ?? throw Invalid(e));
                _version = _resourceVersion(e.Object) ?? _version;
                return true;
            case WatchEventTypes.Deleted:
                _sink.OnDeleted(e.Object ?? throw Invalid(e));
                _version = _resourceVersion(e.Object) ?? _version;
                return true;
            case WatchEventTypes.Bookmark:
                _version = (e.Object is null ? null : _resourceVersion(e.Object)) ?? _version;
                return true;
            case WatchEventTypes.Error when e.Status?.Code == 410:
                Log.Expired(_logger, _what, _version, e.Status.Message);
                _metrics.WatchRestarted(_what, "expired");
                _version = null;
                return false;
            case WatchEventTypes.Error:
                throw new KubernetesApiException("watch", _what, (System.Net.HttpStatusCode)(e.Status?.Code ?? 500), e.Status);
            default:
                throw new InvalidDataException($"watch {_what}: unknown event type '{e.Type}'");
        }
    }

    private InvalidDataException Invalid(WatchEvent<T> e) => new($"watch {_what}: a {e.Type} event without an object");

    private void Recovered()
    {
        if (_failures > 0)
        {
            Log.Recovered(_logger, _what, _failures);
            _failures = 0;
        }
        _sink.OnRecovered();
    }

    private static TimeSpan Jitter(TimeSpan value, double spread) => value + value * (Random.Shared.NextDouble() * spread);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
