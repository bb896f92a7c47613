using System.Diagnostics;
using ClientLb.Agent.Model;
using ClientLb.Agent.Tests.Host;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>The agent as a process of its own: killed, its rules stay; restarted, it reconciles without a gap; cleanup removes all.</summary>
[Collection(NetnsCollection.Name)]
public sealed class RestartTests
{
    private static readonly string[] AllBackends = [NetnsFixture.BackendAddress(0), NetnsFixture.BackendAddress(1), NetnsFixture.BackendAddress(2)];
    private readonly NetnsFixture _net;

    public RestartTests(NetnsFixture net) => _net = net;

    [Fact]
    public async Task A_killed_agent_leaves_traffic_flowing_and_a_restarted_one_reconciles_without_a_gap_then_cleans_up()
    {
        string file = Path.GetTempFileName();
        Process? host = null;
        try
        {
            File.WriteAllLines(file,
            [
                AgentHost.Format("web", "10.96.2.10", 80, NetnsFixture.HttpPort, AllBackends),
                AgentHost.Format("old", "10.96.2.11", 80, NetnsFixture.HttpPort, AllBackends[..1]),
            ]);
            host = StartHost(file);
            Assert.Equal(3, Traffic.Curl(_net.Client2, "http://10.96.2.10/", 30).Distinct().Count());

            host.Kill(entireProcessTree: true);
            await host.WaitForExitAsync();
            List<string> afterKill = Traffic.Curl(_net.Client2, "http://10.96.2.10/", 30);
            Assert.DoesNotContain(afterKill, b => b.StartsWith("ERR", StringComparison.Ordinal));
            Assert.Equal(3, afterKill.Distinct().Count());
            Assert.Equal(["b1"], Traffic.Curl(_net.Client2, "http://10.96.2.11/", 3).Distinct());

            // Restart while a client keeps connecting: the layout marker matches, so the chains and maps stay as they are;
            // "web" is found unchanged by its gen hash and "old" (gone) is read from its shard and removed.
            using Process load = StartCurlLoop(_net.Client2, "http://10.96.2.10/", seconds: 4);
            await Task.Delay(500);
            using (var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NetworkNamespace = _net.Client2 }))
            {
                SyncResult restart = await agent.SyncAsync([Services.Tcp("web", "10.96.2.10", 80, NetnsFixture.HttpPort, AllBackends)]);
                Assert.Equal(0, restart.ElementsAdded); // web is programmed already
                Assert.Equal(4, restart.ElementsDeleted); // old's epx, cnt, grp and gen (sidecar mode: no hairpin entries)
                Assert.Equal(1, restart.Transactions);

                SyncResult change = await agent.SyncAsync([Services.Tcp("web", "10.96.2.10", 80, NetnsFixture.HttpPort, AllBackends[..2])]);
                Assert.Equal(2, change.ElementsAdded); // cnt 2 and the new gen (indexes 0 and 1 stay)
                Assert.Equal(3, change.ElementsDeleted); // index 2 (b3), cnt 3 and the old gen

                string loadOutput = await load.StandardOutput.ReadToEndAsync();
                await load.WaitForExitAsync();
                string[] lines = loadOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.True(lines.Length > 10, $"the client made only {lines.Length} requests");
                Assert.DoesNotContain(lines, l => l.StartsWith("ERR", StringComparison.Ordinal));
                Assert.NotEqual(0, Traffic.CurlOnce(_net.Client2, "http://10.96.2.11/", timeoutSeconds: 1).ExitCode);

                await agent.CleanupAsync();
            }
            string tables = Shell.Must("ip", "netns", "exec", _net.Client2, "nft", "list", "tables");
            Assert.DoesNotContain("clientlb", tables);
            Assert.NotEqual(0, Traffic.CurlOnce(_net.Client2, "http://10.96.2.10/", timeoutSeconds: 1).ExitCode);
        }
        finally
        {
            if (host is { HasExited: false })
            {
                host.Kill(entireProcessTree: true);
            }
            host?.Dispose();
            File.Delete(file);
            Shell.Run("ip", "netns", "exec", _net.Client2, "nft", "delete", "table", "ip", "clientlb");
            Shell.Run("ip", "netns", "exec", _net.Client2, "nft", "delete", "table", "ip6", "clientlb");
        }
    }

    private Process StartHost(string file)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[typeof(AgentHost).Assembly.Location, "agent-host", _net.Client2, file])
        {
            start.ArgumentList.Add(a);
        }
        Process host = Process.Start(start)!;
        Task<string?> line = host.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(30)) || line.Result?.StartsWith("SYNCED", StringComparison.Ordinal) != true)
        {
            host.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"The agent host did not sync: {line.Result} {host.StandardError.ReadToEnd()}");
        }
        return host;
    }

    private static Process StartCurlLoop(string ns, string url, int seconds)
    {
        string script = $"end=$(($(date +%s)+{seconds})); while [ $(date +%s) -lt $end ]; do out=$(curl -s -m 2 {url}) && echo \"$out\" || echo ERR:$?; done";
        var start = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (string a in (string[])["netns", "exec", ns, "sh", "-c", script])
        {
            start.ArgumentList.Add(a);
        }
        return Process.Start(start)!;
    }
}
