using System.Diagnostics;
using System.Globalization;
using Greet;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// The gRPC benchmarks' backends: Grpc.AspNetCore greeters on loopback Kestrel (127.0.6.2, .3, ...), h2c. By default they
/// run in a process of their own (this assembly's <c>grpc-backends</c> verb, a <see cref="ChildProcess"/>), so that what
/// the benchmark process allocates and the CPU it uses are the client's alone: with the servers in the same process,
/// their allocations and CPU were in every side's figures. <c>CLIENTLB_BENCH_BACKENDS=in-process</c> keeps them in the
/// benchmark's process.
/// </summary>
internal sealed class GrpcBackends : IAsyncDisposable
{
    private const string ReadyLine = "ready";
    private readonly List<WebApplication> _servers = [];
    private Process? _process;

    private GrpcBackends()
    {
    }

    /// <summary>The backends' host:port.</summary>
    public List<string> Authorities { get; } = [];

    /// <summary>Whether the backends run in their own process.</summary>
    public bool OutOfProcess => _process is not null;

    public static async Task<GrpcBackends> StartAsync(int count)
    {
        string? mode = Environment.GetEnvironmentVariable("CLIENTLB_BENCH_BACKENDS");
        if (mode is not (null or "" or "in-process" or "out-of-process"))
        {
            throw new InvalidOperationException($"CLIENTLB_BENCH_BACKENDS is '{mode}'; use 'in-process' or 'out-of-process' (the default).");
        }
        return mode == "in-process" ? await StartHereAsync(count) : await StartOutOfProcessAsync(count);
    }

    private static async Task<GrpcBackends> StartHereAsync(int count)
    {
        var backends = new GrpcBackends();
        for (int i = 0; i < count; i++)
        {
            (WebApplication app, string authority) = await LoopbackKestrel.StartAsync($"127.0.6.{i + 2}", HttpProtocols.Http2,
                map: app => app.MapGrpcService<BenchGreeter>(), services: s => s.AddGrpc());
            backends._servers.Add(app);
            backends.Authorities.Add(authority);
        }
        return backends;
    }

    private static async Task<GrpcBackends> StartOutOfProcessAsync(int count)
    {
        var backends = new GrpcBackends { _process = ChildProcess.Start("grpc-backends", count) };
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await backends._process.StandardOutput.ReadLineAsync(timeout.Token) is string line)
            {
                if (line == ReadyLine)
                {
                    return backends;
                }
                backends.Authorities.Add(line);
            }
            throw new InvalidOperationException($"The backends' process (grpc-backends) exited with code {backends._process.ExitCode} before it was ready; its errors are above.");
        }
        catch
        {
            await backends.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The <c>grpc-backends</c> verb: starts <c>count</c> greeters, prints their host:port one per line and then
    /// <c>ready</c>, and serves until its standard input closes (the benchmark ended, however it ended).
    /// </summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        int count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        await using GrpcBackends backends = await StartHereAsync(count);
        foreach (string authority in backends.Authorities)
        {
            Console.WriteLine(authority);
        }
        Console.WriteLine(ReadyLine);
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>ClientLb configuration that lists the first <paramref name="count"/> backends as the endpoints of <paramref name="service"/>.</summary>
    public void Configure(Dictionary<string, string?> settings, string service, int count)
    {
        for (int i = 0; i < count; i++)
        {
            settings[$"ClientLb:Services:{service}:Endpoints:{i}"] = Authorities[i];
        }
    }

    /// <summary>grpc-dotnet's static resolver (<c>static:///</c>) over all the backends.</summary>
    public StaticResolverFactory StaticResolver() =>
        new(_ => [.. Authorities.Select(a => new BalancerAddress(a.Split(':')[0], int.Parse(a.Split(':')[1], CultureInfo.InvariantCulture)))]);

    public async ValueTask DisposeAsync()
    {
        foreach (WebApplication app in _servers)
        {
            await app.DisposeAsync();
        }
        if (_process is Process process)
        {
            await ChildProcess.StopAsync(process);
            process.Dispose();
        }
    }

    private sealed class BenchGreeter : Greeter.GreeterBase
    {
        private static readonly HelloReply Reply = new() { Message = "Hello", Server = "bench", DeadlineMs = -1 };

        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context) => Task.FromResult(Reply);
    }
}
