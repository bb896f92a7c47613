using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Tests.Infrastructure;

/// <summary>
/// A real dnsmasq serving test records on its own 127.53.x.y address and a free high port, answering only from local
/// data (<c>--no-resolv --no-hosts --local=/#/</c>: NXDOMAIN for unknown names, never forwarded), so nothing leaves the loopback network.
/// When dnsmasq is not installed the constructor throws, which fails the test with the tool's name.
/// </summary>
internal sealed class Dnsmasq : IAsyncDisposable
{
    private static int _instances;
    private readonly string _directory;
    private Process? _process;
    private readonly StringBuilder _log = new();

    private Dnsmasq(IPEndPoint endpoint, string directory)
    {
        Endpoint = endpoint;
        _directory = directory;
    }

    /// <summary>Where the server listens (UDP and TCP).</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>An extra hosts file (<c>--addn-hosts</c>) the tests can rewrite.</summary>
    public string HostsFile => Path.Combine(_directory, "hosts");

    /// <summary>Everything dnsmasq printed, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts dnsmasq with <paramref name="records"/> (dnsmasq options such as <c>--host-record=...</c>) and an optional hosts file.</summary>
    public static async Task<Dnsmasq> StartAsync(IEnumerable<string> records, string? hosts = null, int localTtl = 5)
    {
        string binary = FindBinary();
        int n = Interlocked.Increment(ref _instances);
        var address = new IPAddress([127, 53, (byte)(Environment.ProcessId % 200 + 1), (byte)(n % 250 + 1)]);
        string directory = Directory.CreateTempSubdirectory("clientlb-dnsmasq-").FullName;
        var server = new Dnsmasq(new IPEndPoint(address, FreePort(address)), directory) { Binary = binary };
        await File.WriteAllTextAsync(server.HostsFile, hosts ?? "");
        await server.RunAsync(records, localTtl);
        return server;
    }

    private string Binary { get; init; } = "";

    /// <summary>Stops the server: queries to it go unanswered from now on.</summary>
    public async Task StopAsync()
    {
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }
        if (!process.HasExited)
        {
            process.Kill();
        }
        await process.WaitForExitAsync();
        process.Dispose();
    }

    /// <summary>Restarts on the same address and port with other records (dnsmasq reads command-line records only at start).</summary>
    public async Task RestartAsync(IEnumerable<string> records, string? hosts = null, int localTtl = 5)
    {
        await StopAsync();
        if (hosts is not null)
        {
            await File.WriteAllTextAsync(HostsFile, hosts);
        }
        await RunAsync(records, localTtl);
    }

    /// <summary>A client settings object pointing at this server only, with a short timeout.</summary>
    public DnsResolverSettings Settings(TimeSpan? timeout = null, int attempts = 1, IReadOnlyList<string>? search = null, int ndots = 1) => new()
    {
        Origin = "dnsmasq test server",
        Servers = [Endpoint],
        Timeout = timeout ?? TimeSpan.FromSeconds(2),
        Attempts = attempts,
        Search = search ?? [],
        Ndots = ndots,
    };

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task RunAsync(IEnumerable<string> records, int localTtl)
    {
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll", "--pid-file=",
            "--log-facility=-", "--bind-interfaces", $"--listen-address={Endpoint.Address}", $"--port={Endpoint.Port}",
            "--local=/cluster.local/", "--local=/#/", $"--local-ttl={localTtl}", $"--addn-hosts={HostsFile}", "--user=root",
        }.Concat(records))
        {
            start.ArgumentList.Add(arg);
        }
        Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Binary}.");
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        await WaitUntilAnsweringAsync(process);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    // Ready means it answers a query (any response code) over UDP; bounded so a broken start fails fast.
    private async Task WaitUntilAnsweringAsync(Process process)
    {
        var client = new DnsStubClient(new DnsResolverSettings { Servers = [Endpoint], Timeout = TimeSpan.FromMilliseconds(200), Attempts = 1 });
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"dnsmasq exited with code {process.ExitCode} at start:\n{Log}");
            }
            try
            {
                await client.QueryAsync(new DnsQuestion("ready.probe.cluster.local", DnsRecordType.A));
                return;
            }
            catch (DnsResolutionException)
            {
                await Task.Delay(50);
            }
        }
        throw new InvalidOperationException($"dnsmasq did not answer on {Endpoint} within 10 s:\n{Log}");
    }

    private static string FindBinary()
    {
        string[] dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin", "/sbin"]).ToArray();
        foreach (string dir in dirs.Where(d => d.Length > 0))
        {
            string path = Path.Combine(dir, "dnsmasq");
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new InvalidOperationException(
            "dnsmasq is not installed: the DNS tests need a real DNS server. Install it with 'apt-get install -y dnsmasq' (the Debian package 'dnsmasq').");
    }

    // Free on both UDP and TCP at this address; the address is ours alone, so the gap before dnsmasq binds is harmless.
    private static int FreePort(IPAddress address)
    {
        for (int i = 0; i < 20; i++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(address, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(address, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException($"No free port on {address}.");
    }
}
