using System.Diagnostics;
using System.Globalization;
using System.Text;
using ClientLb.Agent.Model;
using ClientLb.Agent.Tests.Netns;

namespace ClientLb.Agent.Tests.Host;

/// <summary>
/// <c>dotnet ClientLb.Agent.Tests.dll agent-bench [services] [endpoints-per-service] [--no-iptables] [--no-latency]</c>:
/// the agent's load test, run as root in two namespaces it creates and deletes (client 10.232.0.1, backend 10.232.0.2, no
/// route out). Measures cold sync, one service added, one endpoint changed and a restart at N services x E endpoints
/// (default 10,000 x 2), the same operations for a kube-proxy style iptables layout (KUBE-SERVICES, one rule per service,
/// iptables-restore) and first-packet latency (TCP connect through the VIP) at 10, 1,000, 10,000 and 30,000 services for
/// both. The cold sync and the restart each run in a process of their own (<c>agent-bench-phase</c>), which reports its
/// resident memory (VmRSS after the sync, VmHWM its peak); new connections run through a VIP during the restart and are
/// counted. <c>agent-bench-phase plan FILE SERVICES ENDPOINTS</c> measures the agent's own share of a cold sync (validate,
/// plan, diff, render into FILE; no kernel). Prints Markdown.
/// </summary>
public static class AgentBench
{
    private const string Backend = "10.232.0.2";
    private const int Repeats = 21;
    private const int WarmUp = 5;

    public static int Run(string[] args)
    {
        string[] numbers = [.. args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal))];
        int count = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 10_000;
        int perService = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 2;
        if (count < 2 || perService is < 1 or > MaxEndpoints)
        {
            Console.Error.WriteLine($"agent-bench: services must be at least 2 and endpoints per service 1-{MaxEndpoints}");
            return 2;
        }
        bool iptables = !args.Contains("--no-iptables"), latency = !args.Contains("--no-latency");
        string id = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..6].ToLowerInvariant();
        string client = $"clbb{id}-c", backend = $"clbb{id}-b";
        Process? server = null;
        try
        {
            Shell.Must("ip", "netns", "add", client);
            Shell.Must("ip", "netns", "add", backend);
            Shell.Must("ip", "-n", client, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", backend);
            Shell.Must("ip", "-n", client, "addr", "add", "10.232.0.1/24", "dev", "eth0");
            Shell.Must("ip", "-n", backend, "addr", "add", Backend + "/24", "dev", "eth0");
            foreach (string ns in (string[])[client, backend])
            {
                Shell.Must("ip", "-n", ns, "link", "set", "eth0", "up");
                Shell.Must("ip", "-n", ns, "link", "set", "lo", "up");
            }
            Shell.Must("ip", "-n", client, "route", "add", "10.96.0.0/12", "dev", "eth0");
            server = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", backend, "python3", "-c",
                $"import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('{Backend}', 8080)); s.listen(4096)\nwhile True:\n    c, _ = s.accept(); c.close()"])
            { UseShellExecute = false })!;
            Thread.Sleep(500);

            var report = new StringBuilder();
            report.AppendLine(CultureInfo.InvariantCulture, $"| operation at {count:N0} services x {perService} endpoints | clientlb nftables (libnftables, elements over nfnetlink) | kube-proxy-style iptables-restore |");
            report.AppendLine("|---|---|---|");
            (string Cold, string Add, string Change, string Restart) nft = Nftables(client, count, perService);
            (string Cold, string Add, string Change, string Restart) ipt = iptables ? Iptables(client, count, perService) : ("not run", "not run", "not run", "not run");
            report.AppendLine(CultureInfo.InvariantCulture, $"| cold sync | {nft.Cold} | {ipt.Cold} |");
            report.AppendLine(CultureInfo.InvariantCulture, $"| add one service (median / max of {Repeats}) | {nft.Add} | {ipt.Add} |");
            report.AppendLine(CultureInfo.InvariantCulture, $"| one endpoint change (median / max of {Repeats}) | {nft.Change} | {ipt.Change} |");
            report.AppendLine(CultureInfo.InvariantCulture, $"| restart (new process, same services) | {nft.Restart} | {ipt.Restart} |");
            report.AppendLine();
            if (!latency)
            {
                Console.WriteLine(report);
                return 0;
            }
            report.AppendLine("| services | first-packet latency nftables (median / p99 of 300 connects) | iptables |");
            report.AppendLine("|---|---|---|");
            foreach (int n in (int[])[10, 1_000, 10_000, 30_000])
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"| {n:N0} | {NftLatency(client, n)} | {IptLatency(client, n)} |");
            }
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            if (server is { HasExited: false })
            {
                server.Kill(entireProcessTree: true);
            }
            Shell.Run("ip", "netns", "del", client);
            Shell.Run("ip", "netns", "del", backend);
        }
    }

    private static string Vip(int i) => $"10.{96 + i / 65536}.{i / 256 % 256}.{i % 256}";

    /// <summary>Endpoint addresses 10.112.x.y to 10.(112 + E).x.y stay clear of the VIPs (10.96.0.0/12).</summary>
    private const int MaxEndpoints = 64;

    private static string Ep(int i, int which) => $"10.{112 + which}.{i / 256 % 256}.{i % 256}";

    /// <summary>
    /// Service <paramref name="i"/> with <paramref name="perService"/> endpoints; a <paramref name="variant"/> swaps the
    /// last one for another address (one endpoint change). The last service of a set points at the real backend.
    /// </summary>
    private static ServiceState Service(int i, int perService, bool real = false, int variant = 0) =>
        Services.Tcp($"svc{i}", Vip(i), 80, 8080, real ? [Backend] : Endpoints(i, perService, variant));

    private static string[] Endpoints(int i, int perService, int variant) =>
        [.. Enumerable.Range(0, perService - 1).Select(k => Ep(i, k)), Ep(i, perService - 1 + variant % 2)];

    private static List<ServiceState> ServiceSet(int count, int perService) =>
        [.. Enumerable.Range(1, count).Select(i => Service(i, perService, real: i == count))];

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString(t.TotalMilliseconds < 10 ? "F2" : "F0", CultureInfo.InvariantCulture) + " ms";

    private static string MedianMax(List<TimeSpan> samples)
    {
        samples.Sort();
        return $"{Ms(samples[samples.Count / 2])} / {Ms(samples[^1])}";
    }

    /// <summary>
    /// The process's CPU time (user + system, all threads; getrusage is exact to the scheduler's accounting). On a machine
    /// shared with other builds, wall time stretches with the load; the CPU an operation costs does not.
    /// </summary>
    private static TimeSpan Cpu()
    {
        if (GetRusage(0, out Rusage usage) != 0)
        {
            throw new InvalidOperationException("getrusage failed");
        }
        return TimeSpan.FromMicroseconds(usage.UserSeconds * 1e6 + usage.UserMicroseconds + usage.SystemSeconds * 1e6 + usage.SystemMicroseconds);
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.ByValArray, SizeConst = 14)]
        public long[] Rest;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRusage(int who, out Rusage usage);

    private static NftablesAgentOptions Options(string ns) =>
        new() { Mode = AgentMode.Sidecar, NetworkNamespace = ns, ConntrackCleanup = false };

    private static (string, string, string, string) Nftables(string ns, int count, int perService)
    {
        // Cold sync and restart each in a fresh process, so its resident memory is the agent's own.
        string cold = Phase("cold", ns, count, perService);
        string restart;
        using (var traffic = Traffic.Start(ns, Vip(count)))
        {
            restart = Phase("restart", ns, count, perService) + "; " + traffic.Stop();
        }
        List<ServiceState> services = ServiceSet(count, perService);
        string add, change;
        using (var agent = new NftablesAgent(Options(ns)))
        {
            agent.SyncAsync(services).GetAwaiter().GetResult();
            // Warm up (JIT tiers, first-use paths) on other services, so the samples are the steady-state cost.
            for (int w = 0; w < WarmUp; w++)
            {
                agent.ApplyAsync([Service(count + 200 + w, perService)], []).GetAwaiter().GetResult();
                agent.ApplyAsync([Service(count / 3, perService, variant: w + 1)], []).GetAwaiter().GetResult();
            }
            var adds = new List<TimeSpan>();
            TimeSpan cpu = Cpu();
            for (int r = 0; r < Repeats; r++)
            {
                var watch = Stopwatch.StartNew();
                agent.ApplyAsync([Service(count + 1 + r, perService)], []).GetAwaiter().GetResult();
                adds.Add(watch.Elapsed);
            }
            TimeSpan addCpu = (Cpu() - cpu) / Repeats;
            var changes = new List<TimeSpan>();
            cpu = Cpu();
            for (int r = 0; r < Repeats; r++)
            {
                var watch = Stopwatch.StartNew();
                agent.ApplyAsync([Service(count / 2, perService, variant: r + 1)], []).GetAwaiter().GetResult();
                changes.Add(watch.Elapsed);
            }
            TimeSpan changeCpu = (Cpu() - cpu) / Repeats;
            List<ServiceState> current = [.. services, .. Enumerable.Range(0, Repeats).Select(r => Service(count + 1 + r, perService))];
            current.AddRange(Enumerable.Range(0, WarmUp).Select(w => Service(count + 200 + w, perService)));
            current[count / 2 - 1] = Service(count / 2, perService, variant: Repeats);
            current[count / 3 - 1] = Service(count / 3, perService, variant: WarmUp);
            agent.SyncAsync(current).GetAwaiter().GetResult();
            List<ServiceState> plusOne = [.. current, Service(count + 100, perService)];
            var fullSync = Stopwatch.StartNew();
            agent.SyncAsync(plusOne).GetAwaiter().GetResult();
            add = MedianMax(adds) + $" (CPU {Ms(addCpu)} each); via a full SyncAsync of {plusOne.Count:N0}: {Ms(fullSync.Elapsed)}";
            change = MedianMax(changes) + $" (CPU {Ms(changeCpu)} each)";
            agent.CleanupAsync().GetAwaiter().GetResult();
        }
        return (cold, add, change, restart);
    }

    /// <summary>
    /// New TCP connections through the VIP of the service that points at the real backend, one after the other, from the
    /// client namespace while a phase runs; each either completes within a second or counts as failed.
    /// </summary>
    private sealed class Traffic : IDisposable
    {
        private readonly Process _client;

        private Traffic(Process client) => _client = client;

        public static Traffic Start(string ns, string vip)
        {
            string script = "import socket, sys, threading\nok = failed = 0\nstop = threading.Event()\n" +
                "threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()\n" +
                "while not stop.is_set():\n    s = socket.socket(); s.settimeout(1)\n    try:\n        s.connect(('" + vip + "', 80)); ok += 1\n" +
                "    except OSError:\n        failed += 1\n    finally:\n        s.close()\nprint(ok, failed)";
            Process client = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns, "python3", "-c", script])
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
            })!;
            Thread.Sleep(300);
            return new Traffic(client);
        }

        /// <summary>Stops the client and says how many connections went through and how many failed.</summary>
        public string Stop()
        {
            _client.StandardInput.Close();
            string[] counts = _client.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            _client.WaitForExit();
            return counts.Length == 2
                ? $"traffic throughout: {int.Parse(counts[0], CultureInfo.InvariantCulture):N0} connections, {int.Parse(counts[1], CultureInfo.InvariantCulture)} failed"
                : "traffic client failed";
        }

        public void Dispose()
        {
            if (!_client.HasExited)
            {
                _client.Kill(entireProcessTree: true);
            }
            _client.Dispose();
        }
    }

    /// <summary>Runs one phase (<c>cold</c>: clean up, then sync; <c>restart</c>: sync over what is programmed) in a child process.</summary>
    private static string Phase(string phase, string ns, int count, int perService)
    {
        string self = typeof(AgentBench).Assembly.Location;
        (int code, string output, string error) = Shell.Run("dotnet",
            [self, "agent-bench-phase", phase, ns, count.ToString(CultureInfo.InvariantCulture), perService.ToString(CultureInfo.InvariantCulture)],
            TimeSpan.FromMinutes(20));
        if (code != 0)
        {
            throw new InvalidOperationException($"agent-bench-phase {phase} failed: {error}");
        }
        return output.Trim();
    }

    /// <summary>
    /// <c>agent-bench-phase cold|restart NETNS SERVICES ENDPOINTS</c>: one sync in this process, then its memory;
    /// <c>agent-bench-phase plan FILE SERVICES ENDPOINTS</c>: the same cold sync in dry-run mode into FILE, its CPU.
    /// </summary>
    public static int RunPhase(string[] args)
    {
        string phase = args[1], ns = args[2];
        int count = int.Parse(args[3], CultureInfo.InvariantCulture), perService = int.Parse(args[4], CultureInfo.InvariantCulture);
        List<ServiceState> services = ServiceSet(count, perService);
        if (phase == "plan")
        {
            // The agent's own share of a cold sync: validate, plan, diff and render, into a file instead of the kernel.
            using var output = new StreamWriter(ns);
            using var dry = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Sidecar, DryRun = true, DryRunOutput = output });
            var planWatch = Stopwatch.StartNew();
            TimeSpan planCpu = Cpu();
            dry.SyncAsync(services).GetAwaiter().GetResult();
            Console.WriteLine($"plan {Ms(planWatch.Elapsed)}, CPU {Ms(Cpu() - planCpu)}");
            return 0;
        }
        using var agent = new NftablesAgent(Options(ns));
        if (phase == "cold")
        {
            agent.CleanupAsync().GetAwaiter().GetResult();
        }
        var watch = Stopwatch.StartNew();
        TimeSpan cpu = Cpu();
        SyncResult result = agent.SyncAsync(services).GetAwaiter().GetResult();
        TimeSpan elapsed = watch.Elapsed;
        cpu = Cpu() - cpu;
        GC.Collect();
        Console.WriteLine(phase == "cold"
            ? $"{Ms(elapsed)}, CPU {Ms(cpu)} (kernel {Ms(result.KernelDuration)}; {result.Transactions} transactions, {result.ElementsAdded:N0} elements; {Memory()})"
            : $"{Ms(elapsed)}, CPU {Ms(cpu)} (kernel {Ms(result.KernelDuration)}; +{result.ElementsAdded:N0}/-{result.ElementsDeleted:N0} elements, {result.Transactions} transaction; {Memory()})");
        return 0;
    }

    /// <summary>This process's resident set now and at its peak, and the managed heap, from /proc/self/status and the GC.</summary>
    private static string Memory()
    {
        string Field(string name) => File.ReadLines("/proc/self/status").First(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        double Mb(string kb) => long.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
        return string.Create(CultureInfo.InvariantCulture,
            $"RSS {Mb(Field("VmRSS")):F0} MB, peak {Mb(Field("VmHWM")):F0} MB, heap {GC.GetTotalMemory(false) / 1048576.0:F0} MB");
    }

    private static (string, string, string, string) Iptables(string ns, int count, int perService)
    {
        var watch = Stopwatch.StartNew();
        Restore(ns, IptablesLayout.Full(Enumerable.Range(1, count).Select(i => IptService(i, count, perService)).ToList()), noflush: false);
        string cold = Ms(watch.Elapsed);
        var all = Enumerable.Range(1, count).Select(i => IptService(i, count, perService)).ToList();
        var adds = new List<TimeSpan>();
        for (int r = 0; r < Repeats; r++)
        {
            IptablesLayout.Svc added = IptService(count + 1 + r, count, perService);
            all.Add(added);
            watch.Restart();
            Restore(ns, IptablesLayout.Partial(all, [added]), noflush: true);
            adds.Add(watch.Elapsed);
        }
        var changes = new List<TimeSpan>();
        int changed = count / 2 - 1;
        for (int r = 0; r < Repeats; r++)
        {
            all[changed] = all[changed] with { Endpoints = Endpoints(changed + 1, perService, r + 1) };
            watch.Restart();
            Restore(ns, IptablesLayout.Partial(all, [all[changed]]), noflush: true);
            changes.Add(watch.Elapsed);
        }
        watch.Restart();
        Restore(ns, IptablesLayout.Full(all), noflush: false);
        string restart = Ms(watch.Elapsed) + " (full restore)";
        Shell.Must("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-F");
        Shell.Must("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-X");
        return (cold, MedianMax(adds), MedianMax(changes), restart);
    }

    private static IptablesLayout.Svc IptService(int i, int count, int perService) =>
        new(i, Vip(i), i == count ? [Backend] : Endpoints(i, perService, 0));

    private static void Restore(string ns, string input, bool noflush)
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, input);
            (int code, _, string error) = Shell.Run("ip", ["netns", "exec", ns, "sh", "-c", $"iptables-restore {(noflush ? "--noflush " : "")}< {file}"], TimeSpan.FromMinutes(10));
            if (code != 0)
            {
                throw new InvalidOperationException("iptables-restore failed: " + error);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Connects(string ns, string vip)
    {
        string script = $"import socket, time\nlat = []\nfor i in range(300):\n    s = socket.socket(); t = time.perf_counter(); s.connect(('{vip}', 80)); lat.append(time.perf_counter() - t); s.close()\nlat.sort()\nprint('%.0f us / %.0f us' % (lat[150] * 1e6, lat[296] * 1e6))";
        (int code, string output, string error) = Shell.Run("ip", ["netns", "exec", ns, "python3", "-c", script], TimeSpan.FromMinutes(2));
        return code == 0 ? output.Trim() : "failed: " + error.Trim();
    }

    private static string NftLatency(string ns, int n)
    {
        using var agent = new NftablesAgent(Options(ns));
        agent.SyncAsync(ServiceSet(n, 2)).GetAwaiter().GetResult();
        string result = Connects(ns, Vip(n));
        agent.CleanupAsync().GetAwaiter().GetResult();
        return result;
    }

    private static string IptLatency(string ns, int n)
    {
        Restore(ns, IptablesLayout.Full(Enumerable.Range(1, n).Select(i => IptService(i, n, 2)).ToList()), noflush: false);
        string result = Connects(ns, Vip(n));
        Shell.Must("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-F");
        Shell.Must("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-X");
        return result;
    }
}

/// <summary>
/// kube-proxy's iptables layout, as iptables-restore input: KUBE-SERVICES with one rule per service port jumping to
/// KUBE-SVC-*, which picks a KUBE-SEP-* with <c>statistic --mode random</c>; each SEP marks hairpin traffic and DNATs.
/// With MinimizeIPTablesRestore (kube-proxy 1.27+) a partial sync rewrites KUBE-SERVICES whole and only changed chains.
/// </summary>
internal static class IptablesLayout
{
    public sealed record Svc(int Id, string Vip, string[] Endpoints);

    public static string Full(IReadOnlyList<Svc> services) => Render(services, services);

    public static string Partial(IReadOnlyList<Svc> services, IReadOnlyList<Svc> changed) => Render(services, changed);

    private static string Render(IReadOnlyList<Svc> services, IReadOnlyList<Svc> chains)
    {
        var t = new StringBuilder("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n");
        foreach (Svc s in chains)
        {
            t.Append(":KUBE-SVC-").Append(s.Id).Append(" - [0:0]\n");
            for (int e = 0; e < s.Endpoints.Length; e++)
            {
                t.Append(":KUBE-SEP-").Append(s.Id).Append('-').Append(e).Append(" - [0:0]\n");
            }
        }
        if (chains.Count == services.Count)
        {
            t.Append("-A OUTPUT -j KUBE-SERVICES\n-A PREROUTING -j KUBE-SERVICES\n-A POSTROUTING -j KUBE-POSTROUTING\n");
            t.Append("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n-A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE\n");
        }
        foreach (Svc s in services)
        {
            t.Append("-A KUBE-SERVICES -d ").Append(s.Vip).Append("/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-").Append(s.Id).Append('\n');
        }
        foreach (Svc s in chains)
        {
            for (int e = 0; e < s.Endpoints.Length; e++)
            {
                t.Append("-A KUBE-SVC-").Append(s.Id);
                int left = s.Endpoints.Length - e;
                if (left > 1)
                {
                    t.Append(" -m statistic --mode random --probability ").Append((1.0 / left).ToString("F5", CultureInfo.InvariantCulture));
                }
                t.Append(" -j KUBE-SEP-").Append(s.Id).Append('-').Append(e).Append('\n');
                t.Append("-A KUBE-SEP-").Append(s.Id).Append('-').Append(e).Append(" -s ").Append(s.Endpoints[e]).Append("/32 -j KUBE-MARK-MASQ\n");
                t.Append("-A KUBE-SEP-").Append(s.Id).Append('-').Append(e).Append(" -p tcp -m tcp -j DNAT --to-destination ").Append(s.Endpoints[e]).Append(":8080\n");
            }
        }
        t.Append("COMMIT\n");
        return t.ToString();
    }
}
