using ClientLb.Endpoints;
using ClientLb.Sources;

namespace ClientLb.Kubernetes.Tests.Infrastructure;

/// <summary>Waits for conditions by subscription (no sleeping); the timeout only stops a hung test.</summary>
public static class Await
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Completes when the source's state satisfies <paramref name="condition"/>, re-checked on every change.</summary>
    public static async Task<EndpointSnapshot?> SourceAsync(IEndpointSource source, Func<IEndpointSource, bool> condition, string what, TimeSpan? timeout = null)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using IDisposable subscription = source.Subscribe(s =>
        {
            if (condition(s))
            {
                signal.TrySetResult();
            }
        });
        source.Start();
        if (!condition(source))
        {
            try
            {
                await signal.Task.WaitAsync(timeout ?? DefaultTimeout);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"Timed out waiting for {what}; the source has: {Describe(source)}");
            }
        }
        return source.Current;
    }

    /// <summary>Waits until the source publishes endpoints matching <paramref name="condition"/>.</summary>
    public static Task<EndpointSnapshot?> EndpointsAsync(IEndpointSource source, Func<IReadOnlyList<Endpoint>, bool> condition, string what, TimeSpan? timeout = null) =>
        SourceAsync(source, s => s.Current is { } snapshot && condition(snapshot.Endpoints), what, timeout);

    /// <summary>Polls a condition on state that offers no notification (bounded; each check is cheap).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        while (!condition())
        {
            try
            {
                await timer.WaitForNextTickAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("Timed out waiting for " + what);
            }
        }
    }

    public static string Describe(IEndpointSource source) =>
        $"v{source.Current?.Version} [{string.Join(", ", source.Current?.Endpoints.Select(e => $"{e.Authority} {e.Conditions}") ?? [])}] status healthy={source.Status.IsHealthy} error={source.Status.LastError?.Message}";
}
