using System.Net;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// One list+watch loop, as client-go's reflector runs it: list, then watch from the list's resourceVersion with
/// bookmarks; resume from the last seen resourceVersion when a watch ends; one fresh list on 410 Gone (an HTTP status
/// or an ERROR event) and every resync interval. Every way a round can go wrong backs off (<see cref="ReconnectBackoff"/>):
/// errors at once, and a watch that ends early (410 again, a cut connection, an empty answer) from its second time in
/// a row; the backoff resets only after <see cref="HealthyPeriod"/> of health. The sink hears of a failure when it
/// happens and of health again only after a successful list, an event, or a watch open and quiet for the healthy period
/// (an accepted watch alone proves nothing: the status does not flip at each reconnect). Objects the pipeline cannot use
/// are skipped, logged and counted, and their resourceVersion passed, so they are never replayed.
/// </summary>
internal sealed class ResourceWatcher<T>
{
    /// <summary>How long a loop must go without failing before its backoff starts again from the first delay.</summary>
    public static readonly TimeSpan HealthyPeriod = TimeSpan.FromSeconds(10);

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
    private readonly ReconnectBackoff _backoff;
    // Guards the failing/healthy report, which a quiet watch's timer may make from another thread.
    private readonly Lock _statusGate = new();
    private string? _version;
    private DateTimeOffset _nextResync;
    private DateTimeOffset? _healthySince;
    private bool _failing;

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
        _backoff = new ReconnectBackoff(settings.ReconnectDelay, settings.MaxReconnectDelay);
    }

    /// <summary>The resourceVersion the next watch resumes from; null when the next step is a list.</summary>
    public string? ResourceVersion => _version;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                wait = await RunOnceAsync(stoppingToken).ConfigureAwait(false) is string early ? EndedEarly(early) : TimeSpan.Zero;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (KubernetesApiException ex) when (ex.IsGone)
            {
                // 410 on the watch request itself: the resourceVersion is too old, like an ERROR event with code 410.
                Expired(ex.Status?.Message);
                wait = EndedEarly("410 Gone on the watch request");
            }
            catch (Exception ex)
            {
                wait = Failed(ex, (ex as KubernetesApiException)?.RetryAfter);
            }
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// One list (when needed) and one watch. Returns null when the watch ended in a way that needs no wait (resync,
    /// the client's deadline), else why it ended, for <see cref="EndedEarly"/>; throws on errors.
    /// </summary>
    private async Task<string?> RunOnceAsync(CancellationToken stoppingToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (_version is null || now >= _nextResync)
        {
            string reason = _version is null ? (_nextResync == default ? "initial" : "expired") : "resync";
            KubernetesList<T> list = await _list(stoppingToken).ConfigureAwait(false);
            string version = list.Metadata?.ResourceVersion
                ?? throw new InvalidDataException($"list {_what}: the server's list has no metadata.resourceVersion to watch from");
            foreach (PoisonObject skipped in list.Skipped)
            {
                Skip(skipped);
            }
            List<T> usable = UsableItems(list.Items ?? []);
            _version = version;
            _nextResync = _time.GetUtcNow() + Jitter(_settings.ResyncInterval, 0.1);
            _metrics.Relisted(_what, reason);
            Log.Listed(_logger, _what, usable.Count, _version, reason);
            Healthy();
            _sink.OnListed(usable);
        }

        TimeSpan timeout = Jitter(_settings.WatchTimeout, 0.5);
        using var resync = new CancellationTokenSource(Max(_nextResync - _time.GetUtcNow(), TimeSpan.FromMilliseconds(1)), _time);
        // The server ends the watch at timeoutSeconds; a connection that died silently (no RST, HTTP/1.1 without pings)
        // or a server that stalls sending nothing would never end, so the client gives up a little later on its own.
        using var deadline = new CancellationTokenSource(timeout + WatchGrace, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, resync.Token, deadline.Token);
        int events = 0;
        IWatchStream<T> stream = await _watch(_version, timeout, stoppingToken).ConfigureAwait(false);
        _healthySince ??= _time.GetUtcNow();
        // A watch that stays open and quiet for the healthy period is health too (a service nobody changes).
        using ITimer quiet = _time.CreateTimer(static self => ((ResourceWatcher<T>)self!).Healthy(), this, HealthyPeriod, Timeout.InfiniteTimeSpan);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                await foreach (WatchEvent<T> e in stream.ReadAsync(linked.Token).ConfigureAwait(false))
                {
                    events++;
                    if (!Handle(e))
                    {
                        return "410 Gone (an ERROR event) right after a list";
                    }
                }
            }
            catch (OperationCanceledException) when (resync.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
            {
                return null; // the next round re-lists
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
            {
                // The server did not end the watch at timeoutSeconds: a stalled server or a connection that died silently.
                _metrics.WatchRestarted(_what, "deadline");
                throw new TimeoutException($"watch {_what}: the server {(events == 0 ? "sent nothing" : $"sent {events} event(s)")} and did not end the watch " +
                    $"{WatchGrace.TotalSeconds:0} s after the {timeout.TotalSeconds:0} s it was asked for; renewing it from resourceVersion {_version}");
            }
            catch (Exception ex) when (events > 0 && ex is IOException or HttpRequestException)
            {
                // The stream broke after making progress: resume from the last resourceVersion.
                _metrics.WatchRestarted(_what, "broken");
                Log.WatchBroken(_logger, _what, _version, ex.Message);
                return "the watch broke: " + ex.Message;
            }
        }
        _metrics.WatchRestarted(_what, "ended");
        return events == 0 ? "the server ended the watch without sending an event" : "the server ended the watch";
    }

    /// <summary>Applies one event; false when the watch must end (410: re-list next).</summary>
    private bool Handle(WatchEvent<T> e)
    {
        if (e.Poison is PoisonObject poison)
        {
            Skip(poison);
            return true;
        }
        switch (e.Type)
        {
            case WatchEventTypes.Added:
            case WatchEventTypes.Modified:
            case WatchEventTypes.Deleted:
                T item = e.Object ?? throw new InvalidDataException($"watch {_what}: a {e.Type} event without an object");
                if (ObjectChecks.ProblemOf(item) is string problem)
                {
                    Skip(new PoisonObject(ObjectChecks.NameOf(item), SafeVersion(item), problem));
                    return true;
                }
                if (e.Type == WatchEventTypes.Deleted)
                {
                    _sink.OnDeleted(item);
                }
                else
                {
                    _sink.OnUpsert(item);
                }
                _version = _resourceVersion(item) ?? _version;
                Healthy();
                return true;
            case WatchEventTypes.Bookmark:
                // A bookmark without a resourceVersion carries no progress: keep the one we have.
                _version = (e.Object is null ? null : SafeVersion(e.Object)) ?? _version;
                Healthy();
                return true;
            case WatchEventTypes.Error when e.Status?.Code == 410:
                Expired(e.Status.Message);
                return false;
            case WatchEventTypes.Error:
                throw new KubernetesApiException("watch", _what, (HttpStatusCode)(e.Status?.Code is int code and >= 100 and <= 999 ? code : 500), e.Status);
            default:
                throw new InvalidDataException($"watch {_what}: unknown event type '{e.Type}'");
        }
    }

    /// <summary>The items of a list that the pipeline can use; the others are skipped as poison.</summary>
    private List<T> UsableItems(List<T> items)
    {
        List<T>? usable = null;
        for (int i = 0; i < items.Count; i++)
        {
            T item = items[i];
            if (ObjectChecks.ProblemOf(item) is string problem)
            {
                usable ??= items[..i];
                Skip(new PoisonObject(ObjectChecks.NameOf(item), null, problem));
            }
            else
            {
                usable?.Add(item);
            }
        }
        return usable ?? items;
    }

    private string? SafeVersion(T item)
    {
        try
        {
            return _resourceVersion(item);
        }
        catch (NullReferenceException)
        {
            return null; // no metadata
        }
    }

    private void Skip(PoisonObject poison)
    {
        Log.PoisonSkipped(_logger, _what, poison.Name, poison.ResourceVersion, poison.Problem);
        _metrics.PoisonSkipped(_what);
        // Past its resourceVersion: a resumed watch does not send it again.
        _version = poison.ResourceVersion ?? _version;
    }

    private void Expired(string? message)
    {
        Log.Expired(_logger, _what, _version, message);
        _metrics.WatchRestarted(_what, "expired");
        _version = null;
    }

    /// <summary>
    /// A watch ended before its time: at once after a healthy period (one fresh list on 410, one resume otherwise),
    /// else a failure with backoff, so a server that ends every watch at once is not asked again and again.
    /// </summary>
    private TimeSpan EndedEarly(string reason)
    {
        if (ResetIfHealthy())
        {
            return TimeSpan.Zero;
        }
        bool first = _backoff.Failures == 0;
        TimeSpan wait = _backoff.Next();
        return first ? TimeSpan.Zero
            : Report(new IOException($"watch {_what}: {reason}, {_backoff.Failures} times in a row within {HealthyPeriod.TotalSeconds:0} s"), wait);
    }

    private TimeSpan Failed(Exception error, TimeSpan? retryAfter)
    {
        ResetIfHealthy();
        return Report(error, _backoff.Next(retryAfter));
    }

    private TimeSpan Report(Exception error, TimeSpan wait)
    {
        lock (_statusGate)
        {
            _failing = true;
            Log.WatchFailed(_logger, _what, _backoff.Failures, wait, error.Message);
            _metrics.WatchFailed(_what);
            _sink.OnFailure(error, _backoff.Failures, wait);
        }
        return wait;
    }

    /// <summary>Resets the backoff when the loop has been healthy for the healthy period; starts a new period either way.</summary>
    private bool ResetIfHealthy()
    {
        bool healthy = _healthySince is DateTimeOffset since && _time.GetUtcNow() - since >= HealthyPeriod;
        if (healthy)
        {
            _backoff.Reset();
        }
        _healthySince = null;
        return healthy;
    }

    /// <summary>A list succeeded, an event arrived, or a watch stayed open: tells the sink once after failures.</summary>
    private void Healthy()
    {
        if (!Volatile.Read(ref _failing))
        {
            return;
        }
        lock (_statusGate)
        {
            if (!_failing)
            {
                return;
            }
            _failing = false;
            Log.Recovered(_logger, _what, _backoff.Failures);
            _sink.OnRecovered();
        }
    }

    private static TimeSpan Jitter(TimeSpan value, double spread) => value + value * (Random.Shared.NextDouble() * spread);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
