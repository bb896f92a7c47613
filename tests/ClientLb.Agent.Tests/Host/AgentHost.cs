using ClientLb.Agent.Model;

namespace ClientLb.Agent.Tests.Host;

/// <summary>
/// <c>dotnet ClientLb.Agent.Tests.dll agent-host NETNS FILE</c>: runs the agent in a process of its own (sidecar mode for
/// NETNS), syncs the services of FILE (one a line: <c>name vip port targetPort ep1,ep2</c>), prints SYNCED and waits
/// to be killed. The test host never calls this; the restart tests start it.
/// </summary>
public static class AgentHost
{
    public static int Main(string[] args)
    {
        if (args.Length >= 1 && args[0] == "agent-bench")
        {
            return AgentBench.Run(args);
        }
        if (args.Length == 5 && args[0] == "agent-bench-phase" && args[1] is "cold" or "restart" or "plan")
        {
            return AgentBench.RunPhase(args);
        }
        if (args.Length != 3 || args[0] != "agent-host")
        {
            Console.Error.WriteLine("usage: agent-host NETNS FILE | agent-bench [SERVICES] [ENDPOINTS] [--no-iptables] [--no-latency]");
            return 2;
        }
        List<ServiceState> services = [.. File.ReadAllLines(args[2]).Where(l => l.Length > 0).Select(Parse)];
        var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, NetworkNamespace = args[1] });
        SyncResult result = agent.SyncAsync(services).GetAwaiter().GetResult();
        if (result.Rejected.Count > 0)
        {
            Console.Error.WriteLine(string.Join("\n", result.Rejected));
            return 1;
        }
        Console.WriteLine("SYNCED " + agent.ElementCount);
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }

    public static string Format(string name, string vip, int port, int targetPort, IEnumerable<string> endpoints) =>
        $"{name} {vip} {port} {targetPort} {string.Join(',', endpoints)}";

    private static ServiceState Parse(string line)
    {
        string[] f = line.Split(' ');
        return Services.Tcp(f[0], f[1], int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture), f[4].Split(','));
    }
}
