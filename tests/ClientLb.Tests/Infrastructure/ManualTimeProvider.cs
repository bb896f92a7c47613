namespace ClientLb.Tests.Infrastructure;

/// <summary>
/// A clock the test moves by hand. (Microsoft.Extensions.TimeProvider.Testing's FakeTimeProvider is not
/// obtainable here; this covers what the tests need: the current time, timestamps that advance with it, and timers
/// that fire, in due order and on the test's thread, while <see cref="Advance"/> passes their due time.)
/// </summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private long _ticks = start.UtcTicks;

    public ManualTimeProvider() : this(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    /// <summary>Timestamps are the clock's ticks, so latency, ejection and session timeouts follow <see cref="Advance"/>.</summary>
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>Timers not disposed and due at some point (a linger waiting to expire, for one).</summary>
    public int ArmedTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count(t => t.Due is not null);
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        long target = Interlocked.Read(ref _ticks) + by.Ticks;
        while (true)
        {
            ManualTimer? next;
            lock (_gate)
            {
                next = _timers.Where(t => t.Due <= target).MinBy(t => t.Due);
                if (next is null)
                {
                    Interlocked.Exchange(ref _ticks, target);
                    return;
                }
                Interlocked.Exchange(ref _ticks, next.Due!.Value);
                next.Due = next.Period is long period ? next.Due + period : null;
            }
            next.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public long? Due { get; set; }

        public long? Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                if (!owner._timers.Contains(this))
                {
                    owner._timers.Add(this);
                }
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : Interlocked.Read(ref owner._ticks) + dueTime.Ticks;
                Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period.Ticks;
            }
            return true;
        }

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
