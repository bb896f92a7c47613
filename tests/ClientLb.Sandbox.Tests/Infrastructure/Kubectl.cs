using System.Diagnostics;

namespace ClientLb.Sandbox.Tests.Infrastructure;

/// <summary>Runs the real kubectl against a sandbox kubeconfig. A missing kubectl fails the test (never a skip).</summary>
public sealed class Kubectl(string kubeconfig) : IDisposable
{
    private readonly string _cacheDir = Directory.CreateTempSubdirectory("kubectl-cache-").FullName;

    public static string Path
    {
        get
        {
            IEnumerable<string> candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(d => System.IO.Path.Combine(d, "kubectl")).Prepend("/usr/bin/kubectl");
            return candidates.FirstOrDefault(File.Exists)
                ?? throw new Xunit.Sdk.XunitException("kubectl was not found (looked at /usr/bin/kubectl and on PATH): these tests need the real kubectl 1.32 as the API server's peer; install it (e.g. apt-get install kubectl or the google-cloud-sdk component).");
        }
    }

    private ProcessStartInfo Start(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--kubeconfig");
        psi.ArgumentList.Add(kubeconfig);
        psi.ArgumentList.Add("--cache-dir");
        psi.ArgumentList.Add(_cacheDir);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["HOME"] = _cacheDir; // no user config leaks in
        return psi;
    }

    public async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args, string? stdin = null, int timeoutSeconds = 60, IReadOnlyDictionary<string, string>? environment = null)
    {
        ProcessStartInfo psi = Start(args);
        foreach ((string? name, string? value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        using Process p = Process.Start(psi)!;
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
        }

        p.StandardInput.Close();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish in {timeoutSeconds}s; stderr: {await stderr}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs and insists on exit code 0, returning stdout.</summary>
    public async Task<string> OkAsync(params string[] args)
    {
        (int exit, string? stdout, string? stderr) = await RunAsync(args);
        if (exit != 0)
        {
            throw new Xunit.Sdk.XunitException($"kubectl {string.Join(' ', args)} exited {exit}: {stderr}");
        }

        return stdout;
    }

    /// <summary>Starts a long-running kubectl (get -w) whose stdout lines the test reads, then kills it.</summary>
    public Process StartStreaming(params string[] args) => Process.Start(Start(args))!;

    public void Dispose()
    {
        try { Directory.Delete(_cacheDir, true); } catch (IOException) { }
    }
}
