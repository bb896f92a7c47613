using ClientLb.Kubernetes.Watching;

namespace ClientLb.Kubernetes.Tests.Watching;

/// <summary>The reconnect wait: exponential with jitter between the first and the maximum delay, Retry-After clamped.</summary>
public sealed class ReconnectBackoffTests
{
    private static readonly TimeSpan First = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public void Waits_double_from_the_first_delay_up_to_the_maximum_with_at_most_a_fifth_of_jitter(double random)
    {
        var backoff = new ReconnectBackoff(First, Max, () => random);
        double[] expected = [1, 2, 4, 8, 16, 30, 30, 30];
        foreach (double seconds in expected)
        {
            TimeSpan wait = backoff.Next();
            Assert.InRange(wait.TotalSeconds, Math.Max(1, seconds * 0.8), seconds);
        }
        // Days of failures do not overflow.
        for (int i = 0; i < 10_000; i++)
        {
            Assert.InRange(backoff.Next(), TimeSpan.FromSeconds(24), Max);
        }
        backoff.Reset();
        Assert.InRange(backoff.Next(), TimeSpan.FromSeconds(0.8), First);
    }

    [Theory]
    [InlineData(8_640_000.0, 30.0)] // 100 days: past what Task.Delay accepts
    [InlineData(97_200.0, 30.0)] // 1 day 3 hours
    [InlineData(5.0, 5.0)]
    [InlineData(-60.0, 1.0)] // a Retry-After date in the past
    public void Retry_after_is_honoured_within_zero_and_the_maximum(double retryAfterSeconds, double expectedSeconds)
    {
        var backoff = new ReconnectBackoff(First, Max, () => 0);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), backoff.Next(TimeSpan.FromSeconds(retryAfterSeconds)));
    }

    [Fact]
    public void A_maximum_below_the_first_delay_wins()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2), () => 0.5);
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Next());
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Next(TimeSpan.FromDays(1)));
    }
}
