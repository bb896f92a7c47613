using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace ClientLb.Benchmarks;

/// <summary>
/// The benchmarks' helper processes: this assembly again, running one of its verbs (<c>grpc-backends</c>,
/// <c>k8s-sandbox</c>), so that what a benchmark measures in its own process (bytes, heap, CPU) is the client's alone.
/// A child is started as <c>dotnet exec</c> with the running app's runtime config and dependencies, which works both for
/// ClientLb.Benchmarks itself and for the host BenchmarkDotNet generates around it. It writes its readiness on standard
/// output and serves until its standard input closes; its errors go to this console.
/// </summary>
internal static class ChildProcess
{
    /// <summary>Starts <paramref name="verb"/> with <paramref name="args"/>.</summary>
    public static Process Start(string verb, params int[] args)
    {
        string entry = Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("No entry assembly to take the runtime configuration from.");
        string dotnet = Environment.ProcessPath is string path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in (string[])["exec", "--runtimeconfig", Path.ChangeExtension(entry, ".runtimeconfig.json"), "--depsfile", Path.ChangeExtension(entry, ".deps.json"),
            typeof(ChildProcess).Assembly.Location, verb, .. args.Select(a => a.ToString(CultureInfo.InvariantCulture))])
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {dotnet} for {verb}.");
    }

    /// <summary>Closes the child's input (it stops), waits for it to exit, and kills it if it has not within 10 s.</summary>
    public static async Task StopAsync(Process child)
    {
        child.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await child.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
        }
    }
}
