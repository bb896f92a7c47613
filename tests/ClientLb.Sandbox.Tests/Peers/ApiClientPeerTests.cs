using System.Diagnostics;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Peers;

/// <summary>
/// The official JavaScript (@kubernetes/client-node, tests/peers/client-node) and Python (Debian's python3-kubernetes,
/// tests/peers/python) clients list, watch across a scale, create and delete against the sandbox.
/// </summary>
public class ApiClientPeerTests
{
    private static string PeersDir([System.Runtime.CompilerServices.CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", "..", "peers"));

    [Fact]
    public Task The_javascript_client_lists_watches_a_scale_creates_and_deletes()
    {
        string dir = Path.Combine(PeersDir(), "client-node");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@kubernetes", "client-node")))
        {
            throw new Xunit.Sdk.XunitException($"@kubernetes/client-node is not installed in {dir}: run `npm ci` there (test.sh does it for every tests/peers/*/package-lock.json).");
        }

        return RunPeerAsync("node", [Path.Combine(dir, "peer.mjs")], dir, "node (apt-get install nodejs)");
    }

    [Fact]
    public Task The_python_client_lists_watches_a_scale_creates_and_deletes() =>
        RunPeerAsync("/usr/bin/python3", [Path.Combine(PeersDir(), "python", "peer.py")], PeersDir(), "Debian's python3 with python3-kubernetes (apt-get install python3-kubernetes)");

    private static async Task RunPeerAsync(string program, string[] script, string workingDirectory, string install)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { UseHttps = true, EnableDns = false, EnableServiceProxy = false });
        await cluster.ApplyManifestAsync(Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (string a in script)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add(cluster.KubeconfigPath);
        psi.ArgumentList.Add("3");
        Process process;
        try { process = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception ex) { throw new Xunit.Sdk.XunitException($"{program} could not be started ({ex.Message}): this test needs {install}."); }
        using Process p = process;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        async Task<string> NextAsync()
        {
            string line = await p.StandardOutput.ReadLineAsync(Deadline.In(60))
                ?? throw new Xunit.Sdk.XunitException($"{program} ended early; output:\n{string.Join("\n", lines)}\nstderr:\n{await stderr}");
            lines.Add(line);
            if (line.StartsWith("ERROR", StringComparison.Ordinal))
            {
                throw new Xunit.Sdk.XunitException($"{program}: {line}\nstderr:\n{await stderr}");
            }

            return line;
        }
        try
        {
            string ips = string.Join(",", cluster.GetPods("app=my-app").Select(x => x.IP).Order(StringComparer.Ordinal));
            Assert.Equal($"LIST pods 2 {ips}", await NextAsync());
            Assert.Equal("LIST deployments my-app=2", await NextAsync());
            Assert.Equal("WATCHING", await NextAsync());
            await cluster.ScaleDeploymentAsync("my-app", 3);
            string line;
            do
            {
                line = await NextAsync();
            }
            while (line.StartsWith("WATCH ", StringComparison.Ordinal) && line != "WATCH MODIFIED my-app replicas=3 ready=3");
            if (line == "WATCH MODIFIED my-app replicas=3 ready=3")
            {
                line = await NextAsync();
            }

            Assert.Contains(lines, l => l.StartsWith("WATCH MODIFIED my-app replicas=3", StringComparison.Ordinal));
            Assert.Matches("^CREATE configmap from-[a-z-]+ uid=[0-9a-f-]{36}$", line);
            Assert.StartsWith("DELETE configmap from-", await NextAsync());
            Assert.Equal("GONE 404", await NextAsync());
            await p.WaitForExitAsync(Deadline.In());
            Assert.True(p.ExitCode == 0, await stderr);
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(true);
            }
        }
    }
}
