using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace ClientLb.Benchmarks;

/// <summary>
/// GrpcCallBenchmarks' seven channels as an interleaved A/B test, which a shared machine's drift cannot bias: blocks of calls
/// alternate between each baseline (grpc-dotnet's static round_robin over three backends; a plain channel to one) and the
/// ClientLb channels compared with it, each group in a fresh random order (seeded); every block gives one time ratio
/// to its baseline's block of the same group, and the median over the groups is reported with p25-p75. The backends run in
/// a process of their own (see <see cref="GrpcBackends"/>), so bytes per call (GC.GetTotalAllocatedBytes over all blocks,
/// exact) and the CPU ratio (Environment.CpuUsage) are the client's alone. Thread-pool work items and the machine's TCP
/// segments sent are counted per call too. With <c>types</c>, it then samples which types each HttpHandler-path call allocates beyond the plain
/// channel (the runtime's allocation ticks, about one per 100 KB). With <c>handler</c> or <c>resolver</c>, only that path's
/// channels and their baseline run (more groups in the same time, for a tighter median). The handler path's sides include
/// its floor: a handler that only forwards to the backend over a transport set up as ClientLb's (no pick, no accounting).
/// <c>dotnet run -c Release --project tests/ClientLb.Benchmarks -- grpc-overhead [groups=40] [callsPerBlock=400] [types] [handler|resolver]</c>.
/// </summary>
public static class GrpcOverheadLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int groups = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40;
        int block = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 400;
        var bench = new GrpcCallBenchmarks();
        await bench.Setup();
        try
        {
            var sides = new (string Name, Func<Task> Call, int Baseline)[]
            {
                ("grpc-dotnet static round_robin", bench.GrpcDotnetStaticRoundRobin, -1),
                ("clientlb:/// clientlb_round_robin", bench.ClientLbResolverRoundRobin, 0),
                ("clientlb:/// clientlb_p2c", bench.ClientLbResolverP2c, 0),
                ("plain channel, one backend", bench.PlainChannel, -1),
                ("HttpHandler path, retries on", bench.HttpHandlerPath, 3),
                ("HttpHandler path, retries off", bench.HttpHandlerPathRetriesOff, 3),
                ("forwarding handler (floor, no ClientLb)", bench.ForwardingHandlerFloor, 3),
            };
            // One path only: its three channels, the baseline first (index 0).
            if (args.Contains("resolver"))
            {
                sides = sides[..3];
            }
            else if (args.Contains("handler"))
            {
                sides = [.. sides[3..].Select(s => s with { Baseline = s.Baseline < 0 ? -1 : 0 })];
            }
            foreach (int concurrency in new[] { 1, 16 })
            {
                bench.Concurrency = concurrency;
                int operations = Math.Max(1, block / concurrency);
                foreach ((_, Func<Task> call, _) in sides)
                {
                    await RunBlockAsync(call, operations);
                }
                List<double>[] perCall = sides.Select(_ => new List<double>()).ToArray();
                List<double>[] ratios = sides.Select(_ => new List<double>()).ToArray();
                List<double>[] cpuRatios = sides.Select(_ => new List<double>()).ToArray();
                double[] cpuTotal = new double[sides.Length];
                long[] bytes = new long[sides.Length];
                long[] workItems = new long[sides.Length];
                long[] segments = new long[sides.Length];
                var shuffle = new Random(20261207);
                for (int g = 0; g < groups; g++)
                {
                    double[] times = new double[sides.Length];
                    double[] cpu = new double[sides.Length];
                    // A fresh random order per group: every channel runs at every position, after every other channel, equally
                    // often. (A fixed order reversed every other group ran the first and last channels twice in a row at each
                    // group boundary, so they never paid the switch from another channel's connection the others paid.)
                    int[] order = [.. Enumerable.Range(0, sides.Length)];
                    shuffle.Shuffle(order);
                    foreach (int i in order)
                    {
                        long segmentsBefore = TcpSegmentsSent();
                        (double seconds, long allocated, double cpuSeconds, long items) = await RunBlockAsync(sides[i].Call, operations);
                        segments[i] += TcpSegmentsSent() - segmentsBefore;
                        workItems[i] += items;
                        times[i] = seconds;
                        cpu[i] = cpuSeconds;
                        cpuTotal[i] += cpuSeconds;
                        bytes[i] += allocated;
                        perCall[i].Add(seconds / (operations * concurrency) * 1e6);
                    }
                    for (int i = 0; i < sides.Length; i++)
                    {
                        ratios[i].Add(times[i] / times[sides[i].Baseline < 0 ? i : sides[i].Baseline]);
                        cpuRatios[i].Add(cpu[i] / cpu[sides[i].Baseline < 0 ? i : sides[i].Baseline]);
                    }
                }
                Console.WriteLine($"grpc-overhead, concurrency {concurrency}: {groups} interleaved groups of {operations * concurrency} calls per channel; backends {(bench.BackendsOutOfProcess ? "in their own process" : "in this process (bytes and CPU include theirs)")}");
                Console.WriteLine("| channel | median us per call | median ratio to baseline (p25-p75) | process CPU ratio (p25-p75) | process CPU us per call | bytes per call | vs baseline | thread-pool work items per call | TCP segments sent per call |");
                Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
                for (int i = 0; i < sides.Length; i++)
                {
                    double callBytes = bytes[i] / (double)(groups * operations * concurrency);
                    int b = sides[i].Baseline;
                    string delta = b < 0 ? "" : $"{Math.Round(callBytes - bytes[b] / (double)(groups * operations * concurrency)):+0;-0;0} B";
                    string ratio = b < 0 ? "1 (baseline)" : Spread(ratios[i]);
                    string cpuRatio = b < 0 ? "1 (baseline)" : Spread(cpuRatios[i]);
                    Console.WriteLine($"| {sides[i].Name} | {OverheadLoad.Median(perCall[i]):0.0} | {ratio} | {cpuRatio} | {cpuTotal[i] / (groups * operations * concurrency) * 1e6:0.00} | {callBytes:0} | {delta} | {workItems[i] / (double)(groups * operations * concurrency):0.00} | {segments[i] / (double)(groups * operations * concurrency):0.00} |");
                }
            }
            if (args.Contains("types"))
            {
                bench.Concurrency = 1;
                await SampleTypesAsync(bench.PlainChannel, bench.HttpHandlerPathRetriesOff, calls: 40_000);
            }
        }
        finally
        {
            await bench.Cleanup();
        }
        return 0;
    }

    // The machine's TCP segments sent so far (Linux /proc/net/snmp; 0 elsewhere), the loopback backends' and the channels'
    // alike: a channel whose pace splits writes that another's coalesces sends more per call.
    private static long TcpSegmentsSent()
    {
        if (!File.Exists("/proc/net/snmp"))
        {
            return 0;
        }
        string[] lines = File.ReadAllLines("/proc/net/snmp");
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith("Tcp:", StringComparison.Ordinal) && lines[i + 1].StartsWith("Tcp:", StringComparison.Ordinal))
            {
                int column = Array.IndexOf(lines[i].Split(' '), "OutSegs");
                return column < 0 ? 0 : long.Parse(lines[i + 1].Split(' ')[column], CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    private static string Spread(List<double> ratios) =>
        $"{OverheadLoad.Median(ratios):0.000} ({OverheadLoad.Quantile(ratios, 0.25):0.000}-{OverheadLoad.Quantile(ratios, 0.75):0.000})";

    // Time, bytes, the process's CPU time (all threads; the backends' too when they run in this process) and the
    // thread pool's work items (a channel that hopped threads more often would show more) of a block.
    private static async Task<(double Seconds, long Bytes, double CpuSeconds, long WorkItems)> RunBlockAsync(Func<Task> call, int operations)
    {
        long itemsBefore = ThreadPool.CompletedWorkItemCount;
        TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < operations; i++)
        {
            await call();
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long bytes = GC.GetTotalAllocatedBytes(precise: true) - before;
        return (seconds, bytes, (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds, ThreadPool.CompletedWorkItemCount - itemsBefore);
    }

    // The runtime reports an allocation tick about every 100 KB with the type that crossed it: over many calls, each
    // type's sampled bytes are proportional to what it allocates. Ticks arrive late, so each side runs alone between pauses.
    private static async Task SampleTypesAsync(Func<Task> baseline, Func<Task> measured, int calls)
    {
        using var listener = new AllocationListener();
        var sampled = new Dictionary<string, double>[2];
        Func<Task>[] sides = [baseline, measured];
        for (int side = 0; side < 2; side++)
        {
            await Task.Delay(2000);
            listener.Reset();
            for (int i = 0; i < calls; i++)
            {
                await sides[side]();
            }
            await Task.Delay(2000);
            sampled[side] = listener.Reset().ToDictionary(p => p.Key, p => p.Value / calls);
        }
        Console.WriteLine($"Sampled bytes per call by type, HttpHandler path (retries off) minus plain channel, {calls} calls each (+-~20 B noise):");
        foreach (string type in sampled[0].Keys.Union(sampled[1].Keys)
            .OrderByDescending(t => Math.Abs(sampled[1].GetValueOrDefault(t) - sampled[0].GetValueOrDefault(t))).Take(25))
        {
            Console.WriteLine($"  {sampled[1].GetValueOrDefault(type) - sampled[0].GetValueOrDefault(type),8:+0;-0} B  {type}  ({sampled[0].GetValueOrDefault(type):0} -> {sampled[1].GetValueOrDefault(type):0})");
        }
    }

    private sealed class AllocationListener : EventListener
    {
        private readonly Lock _gate = new();
        private Dictionary<string, double> _bytes = [];

        public Dictionary<string, double> Reset()
        {
            lock (_gate)
            {
                Dictionary<string, double> taken = _bytes;
                _bytes = [];
                return taken;
            }
        }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || e.PayloadNames is null)
            {
                return;
            }
            string type = e.Payload![e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
            double amount = Convert.ToDouble(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")], CultureInfo.InvariantCulture);
            lock (_gate)
            {
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
            }
        }
    }
}
