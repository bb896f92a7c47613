namespace ClientLb.Tests.Infrastructure;

/// <summary>
/// A clock the test moves by hand. (Microsoft.Extensions.TimeProvider.Testing's FakeTimeProvider is not
/// obtainable here; this covers what the tests need: the current time.)
/// </summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
