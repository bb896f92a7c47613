namespace ClientLb.Sandbox.Tests.Infrastructure;

/// <summary>Upper bounds for awaiting conditions: tests await events, these only stop a hung test.</summary>
public static class Deadline
{
    public static CancellationToken In(int seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;
}
