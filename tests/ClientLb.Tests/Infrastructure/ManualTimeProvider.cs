namespace ClientLb.Tests.Infrastructure;

/// <summary>
/// A clock the test moves by hand. (Microsoft.Extensions.TimeProvider.Testing's FakeTimeProvider is not
/// obtainable here; this covers what the tests need: the current time and timestamps that advance with it.)
/// </summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public ManualTimeProvider() : this(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    /// <summary>Timestamps are the clock's ticks, so latency, ejection and session timeouts follow <see cref="Advance"/>.</summary>
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
