namespace ClientLb.Dns.Tests.Infrastructure;

/// <summary>
/// A clock that moves only when the test says so (no FakeTimeProvider package is available here). Timers fire
/// synchronously inside <see cref="Advance"/>; <see cref="WaitForTimerAsync"/> lets a test wait until code under
/// test has started waiting, so advancing never races with the timer's creation.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private TaskCompletionSource _timerScheduled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>The due times of the timers that are waiting, relative to now.</summary>
    public IReadOnlyList<TimeSpan> PendingDelays()
    {
        lock (_gate)
        {
            return _timers.Where(t => t.Due is not null).Select(t => t.Due!.Value - _now).ToList();
        }
    }

    /// <summary>Completes when at least one timer is waiting (now or later).</summary>
    public async Task WaitForTimerAsync(TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        while (true)
        {
            Task signal;
            lock (_gate)
            {
                if (_timers.Any(t => t.Due is not null))
                {
                    return;
                }
                signal = _timerScheduled.Task;
            }
            await signal.WaitAsync(cts.Token);
        }
    }

    /// <summary>Moves the clock forward and fires every timer that falls due, in order.</summary>
    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        DateTimeOffset target;
        lock (_gate)
        {
            target = _now + by;
        }
        while (true)
        {
            ManualTimer? next;
            lock (_gate)
            {
                next = _timers.Where(t => t.Due is not null && t.Due <= target).OrderBy(t => t.Due).FirstOrDefault();
                if (next is null)
                {
                    _now = target;
                    return;
                }
                _now = next.Due!.Value;
                next.Due = next.Period is TimeSpan p && p > TimeSpan.Zero ? _now + p : null;
            }
            next.Fire();
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private void Schedule(ManualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            timer.Due = dueTime == Timeout.InfiniteTimeSpan ? null : _now + dueTime;
            timer.Period = period == Timeout.InfiniteTimeSpan ? null : period;
            if (!_timers.Contains(timer))
            {
                _timers.Add(timer);
            }
            if (timer.Due is null)
            {
                return;
            }
            signal = _timerScheduled;
            _timerScheduled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.TrySetResult();
    }

    private void Remove(ManualTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }

        public TimeSpan? Period { get; set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            owner.Schedule(this, dueTime, period);
            return true;
        }

        public void Dispose() => owner.Remove(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
