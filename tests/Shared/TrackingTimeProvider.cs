using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Testing;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also knows which of its timers are armed (a <c>Task.Delay</c>, a
/// <see cref="CancellationTokenSource"/> deadline or an <see cref="ITimer"/> on this clock), so a test can wait until the
/// code under test has started waiting before it moves the clock, and check that nothing is left waiting. A one-shot
/// timer is armed from its <see cref="ITimer.Change"/> (or creation) with a finite due time until it fires, is changed to
/// <see cref="Timeout.InfiniteTimeSpan"/> or is disposed; a periodic one until it is disarmed or disposed.
/// As with any <see cref="FakeTimeProvider"/>, <see cref="FakeTimeProvider.Advance(TimeSpan)"/> fires the due timers on
/// the calling thread, reading the target time inside their callbacks.
/// </summary>
public sealed class TrackingTimeProvider : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TrackedTimer, DateTimeOffset> _armed = [];
    private TaskCompletionSource _timerArmed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Starts at 2026-11-21 12:00 UTC.</summary>
    public TrackingTimeProvider()
        : this(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public TrackingTimeProvider(DateTimeOffset start)
        : base(start)
    {
    }

    /// <summary>How many timers are armed now (a linger waiting to expire, a pod's grace period, a refresh delay).</summary>
    public int ArmedTimers
    {
        get
        {
            lock (_gate)
            {
                return _armed.Count;
            }
        }
    }

    /// <summary>When the armed timers are next due, relative to now, soonest first.</summary>
    public IReadOnlyList<TimeSpan> PendingDelays()
    {
        DateTimeOffset now = GetUtcNow();
        lock (_gate)
        {
            return [.. _armed.Values.Select(due => due - now).Order()];
        }
    }

    /// <summary>
    /// Completes once a timer is armed (now or later) whose due time, relative to now, satisfies <paramref name="dueIn"/>
    /// (any timer when it is null); throws <see cref="TimeoutException"/> after <paramref name="limit"/> of real time.
    /// </summary>
    public async Task WaitForTimerAsync(TimeSpan limit, Func<TimeSpan, bool>? dueIn = null)
    {
        using var patience = new CancellationTokenSource(limit);
        while (true)
        {
            DateTimeOffset now = GetUtcNow();
            Task armed;
            lock (_gate)
            {
                if (_armed.Values.Any(due => dueIn is null || dueIn(due - now)))
                {
                    return;
                }
                armed = _timerArmed.Task;
            }
            try
            {
                await armed.WaitAsync(patience.Token);
            }
            catch (OperationCanceledException) when (patience.IsCancellationRequested)
            {
                throw new TimeoutException($"the code under test armed no such timer within {limit.TotalSeconds} s");
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new TrackedTimer(this, callback, state);
        timer.Inner = base.CreateTimer(static self => ((TrackedTimer)self!).Fire(), timer, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        timer.Change(dueTime, period);
        return timer;
    }

    private void Arm(TrackedTimer timer, TimeSpan dueTime)
    {
        // The clock is read outside the lock: FakeTimeProvider may fire timers that fell due while it is read.
        DateTimeOffset due = dueTime == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : GetUtcNow() + dueTime;
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                _armed.Remove(timer);
                return;
            }
            _armed[timer] = due;
            signal = _timerArmed;
            _timerArmed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.TrySetResult();
    }

    private void Fired(TrackedTimer timer, TimeSpan period)
    {
        bool periodic = period != TimeSpan.Zero && period != Timeout.InfiniteTimeSpan;
        DateTimeOffset next = periodic ? GetUtcNow() + period : DateTimeOffset.MaxValue;
        lock (_gate)
        {
            if (!periodic)
            {
                _armed.Remove(timer);
            }
            else if (_armed.ContainsKey(timer))
            {
                _armed[timer] = next;
            }
        }
    }

    private void Disarm(TrackedTimer timer)
    {
        lock (_gate)
        {
            _armed.Remove(timer);
        }
    }

    private sealed class TrackedTimer(TrackingTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private TimeSpan _period;

        public ITimer Inner { get; set; } = null!;

        public void Fire()
        {
            owner.Fired(this, _period);
            callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            _period = period;
            owner.Arm(this, dueTime);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            owner.Disarm(this);
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
