using Microsoft.Extensions.Logging;

namespace ClientLb.Dns.Tests.Infrastructure;

/// <summary>Collects formatted log messages so tests can check what operators would read.</summary>
public sealed class ListLoggerFactory : ILoggerFactory
{
    private readonly List<string> _messages = [];
    private TaskCompletionSource _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new ListLogger(this);

    /// <summary>Completes once a message that <paramref name="match"/> accepts has been logged (before or after the call).</summary>
    public async Task WaitForAsync(Func<string, bool> match, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        while (true)
        {
            Task signal;
            lock (_messages)
            {
                if (_messages.Any(match))
                {
                    return;
                }
                signal = _logged.Task;
            }
            try
            {
                await signal.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No matching message was logged within {limit.TotalSeconds:0} s; logged:\n{string.Join('\n', Messages)}");
            }
        }
    }

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            TaskCompletionSource logged;
            lock (owner._messages)
            {
                owner._messages.Add($"{logLevel}: {formatter(state, exception)}");
                logged = owner._logged;
                owner._logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            logged.TrySetResult();
        }
    }
}
