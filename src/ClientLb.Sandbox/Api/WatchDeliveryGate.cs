namespace ClientLb.Sandbox.Api;

/// <summary>
/// Fault injection on watch streams: pause delivery (events queue up, in order, and flow again on resume) or delay
/// each event. Owned by the cluster, so it holds across API server restarts.
/// </summary>
internal sealed class WatchDeliveryGate(TimeProvider time)
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _paused;
    private TimeSpan _delay;

    public void Pause()
    {
        lock (_lock)
        {
            _paused ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Resume()
    {
        TaskCompletionSource? paused;
        lock (_lock)
        {
            (paused, _paused) = (_paused, null);
        }

        paused?.TrySetResult();
    }

    public TimeSpan Delay
    {
        get
        {
            lock (_lock)
            {
                return _delay;
            }
        }
        set
        {
            if (value < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The watch delivery delay must not be negative.");
            }

            lock (_lock)
            {
                _delay = value;
            }
        }
    }

    /// <summary>Completes when the next event may be written.</summary>
    public async ValueTask WaitAsync(CancellationToken ct)
    {
        Task? paused;
        TimeSpan delay;
        lock (_lock)
        {
            (paused, delay) = (_paused?.Task, _delay);
        }

        if (paused is not null)
        {
            await paused.WaitAsync(ct);
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, time, ct);
        }
    }
}
