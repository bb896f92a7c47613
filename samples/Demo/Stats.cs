using System.Collections.Concurrent;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ClientLb.Samples.Demo;

/// <summary>Counts answers per backend (backends may come and go), notes events, and draws it all.</summary>
internal sealed class Stats
{
    private static readonly Color[] Colors = [Color.Green, Color.Blue, Color.Yellow, Color.Aqua, Color.Fuchsia, Color.Orange1, Color.Purple];
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _notes = new();
    private string? _lastError;
    private long _sent;
    private long _failed;

    public long Sent => Interlocked.Read(ref _sent);

    public long Failed => Interlocked.Read(ref _failed);

    public IEnumerable<KeyValuePair<string, long>> Counts => _counts.OrderBy(kv => kv.Key, StringComparer.Ordinal);

    public void Record(string? backend, string? error = null)
    {
        Interlocked.Increment(ref _sent);
        if (backend is null)
        {
            Interlocked.Increment(ref _failed);
            _lastError = error;
        }
        else
        {
            _counts.AddOrUpdate(backend, 1, (_, n) => n + 1);
        }
    }

    public void Note(string note) => _notes.Enqueue(note);

    /// <summary>The last failure's message, or null when nothing failed.</summary>
    public string? LastError => _lastError;

    public string Line(Func<string, string> label) =>
        $"sent {Sent}, failed {Failed}: " + string.Join(", ", Counts.Select(kv => $"{label(kv.Key)}={kv.Value}")) +
        (_notes.IsEmpty ? "" : " | " + string.Join("; ", _notes));

    public IRenderable Render(Func<string, string> label)
    {
        BarChart chart = new BarChart().Width(78).Label($"[bold]answers per endpoint[/]  sent [blue]{Sent}[/]  failed [{(Failed == 0 ? "green" : "red")}]{Failed}[/]");
        int i = 0;
        foreach ((string name, long count) in Counts)
        {
            chart.AddItem(Markup.Escape(label(name)), count, Colors[i++ % Colors.Length]);
        }
        var rows = new List<IRenderable> { chart };
        rows.AddRange(_notes.Select(n => new Markup($"[grey]{Markup.Escape(n)}[/]")));
        if (_lastError is string error)
        {
            rows.Add(new Markup($"[red]last error: {Markup.Escape(error)}[/]"));
        }
        return new Rows(rows);
    }
}
