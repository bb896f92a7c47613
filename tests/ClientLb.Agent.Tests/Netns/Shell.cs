using System.Diagnostics;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>Runs commands for the namespace tests; a failing setup command fails the test with its output.</summary>
internal static class Shell
{
    public static (int ExitCode, string Output, string Error) Run(string file, params string[] args) => Run(file, args, TimeSpan.FromSeconds(60));

    public static (int ExitCode, string Output, string Error) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{file} {string.Join(' ', args)}' did not finish within {timeout.TotalSeconds} s.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    public static string Must(string file, params string[] args)
    {
        (int code, string output, string error) = Run(file, args);
        if (code != 0)
        {
            throw new InvalidOperationException($"'{file} {string.Join(' ', args)}' failed ({code}): {error}{output}");
        }
        return output;
    }

    /// <summary>Runs a shell script inside a network namespace.</summary>
    public static (int ExitCode, string Output, string Error) InNs(string ns, string script, int timeoutSeconds = 60) =>
        Run("ip", ["netns", "exec", ns, "sh", "-c", script], TimeSpan.FromSeconds(timeoutSeconds));

    public static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/sbin")
            .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, tool)));
}
