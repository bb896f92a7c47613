using System.Collections.Concurrent;

namespace ClientLb.Sandbox.Logs;

/// <summary>One line of a container's log, with the time it was written and its position in the log.</summary>
internal readonly record struct LogLine(long Sequence, DateTimeOffset At, string Text);

/// <summary>
/// A container's log as the kubelet keeps it: the newest <see cref="Capacity"/> lines with their times, readable
/// from any position, and a signal for followers (<c>kubectl logs -f</c>). Closed when the container stops.
/// </summary>
internal sealed class LogBook(TimeProvider time, int capacity = 10_000)
{
    private readonly Lock _lock = new();
    private readonly Queue<LogLine> _lines = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _next;
    private bool _closed;

    public int Capacity => capacity;

    public void Write(string text)
    {
        DateTimeOffset at = time.GetUtcNow();
        TaskCompletionSource signal;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _lines.Enqueue(new LogLine(_next++, at, text));
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }

            signal = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.TrySetResult();
    }

    /// <summary>The container stopped: followers end after the last line.</summary>
    public void Close()
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            _closed = true;
            signal = _changed;
        }
        signal.TrySetResult();
    }

    /// <summary>The lines after <paramref name="afterSequence"/> (-1: all kept), whether the log is closed, and a task completing on the next change.</summary>
    public (List<LogLine> Lines, bool Closed, Task Changed) Read(long afterSequence)
    {
        lock (_lock)
        {
            return (_lines.Where(l => l.Sequence > afterSequence).ToList(), _closed, _changed.Task);
        }
    }
}

/// <summary>The logs of the running containers, by pod (namespace/name) and container name.</summary>
internal sealed class PodLogs(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, LogBook> _books = new(StringComparer.Ordinal);

    private static string Key(string ns, string pod, string container) => $"{ns}/{pod}/{container}";

    /// <summary>A fresh log for a container that starts (a previous one of the same name is closed).</summary>
    public LogBook Open(string ns, string pod, string container)
    {
        var book = new LogBook(time);
        if (_books.TryGetValue(Key(ns, pod, container), out LogBook? old))
        {
            old.Close();
        }

        _books[Key(ns, pod, container)] = book;
        return book;
    }

    public LogBook? Find(string ns, string pod, string container) => _books.GetValueOrDefault(Key(ns, pod, container));

    /// <summary>The container stopped and its pod is gone: its log goes too.</summary>
    public void Remove(string ns, string pod, string container, LogBook book)
    {
        book.Close();
        _books.TryRemove(new KeyValuePair<string, LogBook>(Key(ns, pod, container), book));
    }
}
