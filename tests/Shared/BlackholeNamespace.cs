using System.Diagnostics;

namespace ClientLb.Testing;

/// <summary>
/// An address that never answers a connect: a network namespace the test creates, joined to this one by a veth pair
/// (10.233.N.1 here, 10.233.N.2 inside), whose nftables input chain drops every TCP SYN. A connect to
/// <see cref="Address"/> neither succeeds nor is refused, like a pod whose node went away or whose accept queue is full.
/// Deleted on dispose (the veth pair goes with the namespace). Without root or ip/nft the constructor throws, so the
/// test fails with the reason instead of skipping.
/// </summary>
public sealed class BlackholeNamespace : IDisposable
{
    private static int _next = Environment.ProcessId % 200;
    private readonly string _name;

    public BlackholeNamespace()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("The dropped-SYN test needs root (ip netns, veth, nftables). Run the tests as root.");
        }
        foreach (string tool in (string[])["ip", "nft"])
        {
            if (!OnPath(tool))
            {
                throw new InvalidOperationException($"The dropped-SYN test needs '{tool}': apt-get install -y iproute2 nftables.");
            }
        }
        int n = Interlocked.Increment(ref _next) % 250 + 1;
        string id = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..6].ToLowerInvariant();
        _name = $"clbgrpc{id}";
        string host = $"clbg{id}h";
        Address = $"10.233.{n}.2";
        try
        {
            Must("ip", "netns", "add", _name);
            Must("ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", _name);
            Must("ip", "addr", "add", $"10.233.{n}.1/30", "dev", host);
            Must("ip", "link", "set", host, "up");
            Must("ip", "-n", _name, "addr", "add", Address + "/30", "dev", "eth0");
            Must("ip", "-n", _name, "link", "set", "eth0", "up");
            Must("ip", "-n", _name, "link", "set", "lo", "up");
            Must("ip", "netns", "exec", _name, "nft", "add table inet blackhole; add chain inet blackhole input { type filter hook input priority 0; policy accept; }; add rule inet blackhole input tcp flags & (syn | ack) == syn drop");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The address inside the namespace (no listener, every SYN dropped).</summary>
    public string Address { get; }

    public void Dispose() => Run("ip", "netns", "del", _name);

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/sbin")
            .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, tool)));

    private static void Must(params string[] args)
    {
        (int code, string output) = Run(args);
        if (code != 0)
        {
            throw new InvalidOperationException($"'{string.Join(' ', args)}' failed ({code}): {output}");
        }
    }

    private static (int Code, string Output) Run(params string[] args)
    {
        var start = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args.Skip(1))
        {
            start.ArgumentList.Add(a);
        }
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
