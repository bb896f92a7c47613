using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// A real @grpc/grpc-js backend (tests/peers/grpc-js/server.js) in its own node process: the greeter and
/// grpc.health.v1 on a 127.x.y.z address. Commands go over stdin and are acknowledged on stdout, so tests wait for the
/// peer's answer, never for time.
/// </summary>
public sealed class GrpcJsPeer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _commands = new(1, 1);

    private GrpcJsPeer(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>The name the backend answers with (<c>HelloReply.server</c>).</summary>
    public string Name { get; }

    /// <summary><c>address:port</c> it listens on.</summary>
    public string Authority { get; private set; } = "";

    /// <summary>Starts a backend and returns once it listens.</summary>
    public static async Task<GrpcJsPeer> StartAsync(string name, string address, params string[] extraArgs)
    {
        string directory = PeerPrerequisites.EnsureReady();
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])["server.js", "--name", name, "--address", address, "--port", "0", .. extraArgs])
        {
            info.ArgumentList.Add(arg);
        }
        Process process = Process.Start(info) ?? throw new InvalidOperationException("node did not start");
        var peer = new GrpcJsPeer(name, process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                peer._lines.Writer.TryComplete();
            }
            else
            {
                peer._lines.Writer.TryWrite(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (peer._stderr)
                {
                    peer._stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string line = await peer.ReadLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), StartTimeout, "start");
        peer.Authority = line["listening ".Length..];
        return peer;
    }

    /// <summary>Sets the grpc.health.v1 status of <paramref name="service"/> ("" is the server as a whole).</summary>
    public Task SetHealthAsync(string service, string status) => CommandAsync($"health {(service.Length == 0 ? "-" : service)} {status}");

    /// <summary>Makes every SayHello answer <paramref name="status"/> after <paramref name="delayMs"/> (0 serves again).</summary>
    public Task FailAsync(int status, int delayMs = 0) => CommandAsync($"fail {status} {delayMs}");

    /// <summary>SayHello calls served (answered with a reply) and received (any answer).</summary>
    public async Task<(int Served, int Received)> CountAsync()
    {
        await _commands.WaitAsync();
        try
        {
            await _process.StandardInput.WriteLineAsync("count");
            string line = await ReadLineAsync(l => l.StartsWith("count ", StringComparison.Ordinal), CommandTimeout, "count");
            await ReadLineAsync(l => l == "ok count", CommandTimeout, "count");
            string[] parts = line.Split(' ');
            return (int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            _commands.Release();
        }
    }

    /// <summary>
    /// Graceful shutdown (GOAWAY; in-flight calls finish); returns when the server has closed, within
    /// <paramref name="timeout"/> (10 s unless given: a test that holds a call open through the stop gives more).
    /// </summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        await CommandAsync("stop", timeout ?? CommandTimeout);
        await _process.WaitForExitAsync().WaitAsync(CommandTimeout);
    }

    /// <summary>Sends SIGTERM, as Kubernetes stops a pod (graceful shutdown); returns when the process has exited.</summary>
    public async Task TerminateAsync()
    {
        using (Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await _process.WaitForExitAsync().WaitAsync(CommandTimeout);
    }

    /// <summary>Kills the process at once (SIGKILL): connections reset, in-flight calls are lost at the server.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(CommandTimeout);
    }

    private async Task CommandAsync(string command, TimeSpan? timeout = null)
    {
        await _commands.WaitAsync();
        try
        {
            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
            string answer = await ReadLineAsync(l => l == "ok " + command || l.StartsWith("error " + command, StringComparison.Ordinal), timeout ?? CommandTimeout, command);
            if (answer.StartsWith("error", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"grpc-js peer {Name} rejected '{command}': {answer}");
            }
        }
        finally
        {
            _commands.Release();
        }
    }

    private async Task<string> ReadLineAsync(Func<string, bool> wanted, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                string line = await _lines.Reader.ReadAsync(cts.Token);
                if (wanted(line))
                {
                    return line;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            string stderr;
            lock (_stderr)
            {
                stderr = _stderr.ToString();
            }
            throw new InvalidOperationException($"grpc-js peer {Name}: no answer to '{what}' ({(ex is ChannelClosedException ? "the process exited" : $"waited {timeout.TotalSeconds} s")}). stderr: {stderr}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
