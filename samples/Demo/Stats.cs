using System.Collections.Concurrent;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ClientLb.Samples.Demo;

/// <summary>Counts answers per backend, and draws them.</summary>
internal sealed class Stats(IEnumerable<string> backends)
{
    private static readonly Color[] Colors = [Color.Green, Color.Blue, Color.Yellow, Color.Aqua, Color.Fuchsia];
    private readonly ConcurrentDictionary<string, long> _counts = new(backends.Select(b => new KeyValuePair<string, long>(b, 0)));
    private long _sent;
    private long _failed;

    public long Sent => Interlocked.Read(ref _sent);

    public long Failed => Interlocked.Read(ref _failed);

    public IEnumerable<KeyValuePair<string, long>> Counts => _counts.OrderBy(kv => kv.Key, StringComparer.Ordinal);

    public void Record(string? backend)
    {
        Interlocked.Increment(ref _sent);
        if (backend is null)
        {
            Interlocked.Increment(ref _failed);
        }
        else
        {
            _counts.AddOrUpdate(backend, 1, (_, n) => n + 1);
        }
    }

    public string Line() =>
        $"sent {Sent}, failed {Failed}: " + string.Join(", ", Counts.Select(kv => $"{kv.Key}={kv.Value}"));

    public IRenderable Render(Backend victim)
    {
        var chart = new BarChart().Width(70).Label($"[bold]answers per endpoint[/]  sent [blue]{Sent}[/]  failed [{(Failed == 0 ? "green" : "red")}]{Failed}[/]");
        int i = 0;
        foreach ((string name, long count) in Counts)
        {
            string label = name == victim.Name && victim.Stopped ? $"{name} (stopped)" : name;
            chart.AddItem(label, count, Colors[i++ % Colors.Length]);
        }
        return chart;
    }
}
