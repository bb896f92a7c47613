using System.Diagnostics;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// The grpc-js peer needs Node 20+ and its npm packages; when either is missing the tests fail and say what to run,
/// never skip silently.
/// </summary>
public static class PeerPrerequisites
{
    private static readonly Lazy<string> Checked = new(Check);

    /// <summary>The peer's directory, once node and its node_modules are known to be there.</summary>
    public static string EnsureReady() => Checked.Value;

    private static string Check()
    {
        string directory = Path.Combine(RepositoryRoot(), "tests", "peers", "grpc-js");
        string version;
        try
        {
            using Process node = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
            version = node.StandardOutput.ReadToEnd().Trim();
            node.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("The gRPC tests need Node.js 20+ and npm on PATH (apt-get install nodejs npm), then `npm ci` in tests/peers/grpc-js.");
        }
        if (!Version.TryParse(version.TrimStart('v'), out Version? parsed) || parsed.Major < 20)
        {
            throw new InvalidOperationException($"The gRPC tests need Node.js 20 or later; `node --version` says '{version}'.");
        }
        foreach (string package in (string[])["@grpc/grpc-js", "@grpc/proto-loader"])
        {
            if (!File.Exists(Path.Combine(directory, "node_modules", package, "package.json")))
            {
                throw new InvalidOperationException($"The grpc-js test peer is not installed ({package} is missing): run `npm ci` in {directory} (test.sh does).");
            }
        }
        return directory;
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ClientLb.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"ClientLb.sln not found above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
