using System.Diagnostics;

namespace ClientLb.Cli.Tests;

/// <summary><c>clientlb sandbox ARGS</c> run in-process until disposed (which cancels it and checks it exited 0).</summary>
internal sealed class RunningSandbox : IAsyncDisposable
{
    private readonly StringWriter _output = new();
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(2));
    private readonly Task<int> _run;

    private RunningSandbox(string[] args) =>
        _run = CliApp.RunAsync(["sandbox", .. args], TextWriter.Synchronized(_output), TextWriter.Synchronized(new StringWriter()), _stop.Token);

    /// <summary>What the command printed, one entry per line.</summary>
    public string[] Lines => _output.ToString().Split('\n');

    /// <summary>The value after <paramref name="prefix"/> on the line that starts with it (e.g. <c>kubeconfig: </c>).</summary>
    public string Value(string prefix) => Lines.Single(l => l.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..].Trim();

    /// <summary>Starts the command and waits (at most 30 s) until it says it runs.</summary>
    public static async Task<RunningSandbox> StartAsync(params string[] args)
    {
        var sandbox = new RunningSandbox(args);
        var waited = Stopwatch.StartNew();
        while (!sandbox._output.ToString().Contains("press Ctrl-C"))
        {
            Assert.False(sandbox._run.IsCompleted, "the sandbox command ended early: " + sandbox._output);
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the sandbox did not start: " + sandbox._output);
            await Task.WhenAny(sandbox._run, Task.Delay(50));
        }
        return sandbox;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Assert.Equal(0, await _run);
        _stop.Dispose();
    }
}
