using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Node;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Agent.Relay;

/// <summary>
/// The agent's node relay: serves the Services and EndpointSlices it watches to the SDKs on its node, a gRPC service
/// (<c>clientlb.relay.v1.NodeRelay</c>) on Kestrel over a Unix domain socket. The service itself is ClientLb.Kubernetes'
/// <see cref="NodeRelayPublisher"/> (it watches only what some stream asks for, with the SDK's own watch sharing rules,
/// and releases a Service when its last stream ends); this class hosts it.
/// </summary>
public sealed class NodeRelayServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly NodeRelayPublisher _publisher;
    private readonly string _socketPath;

    private NodeRelayServer(WebApplication app, NodeRelayPublisher publisher, string socketPath)
    {
        _app = app;
        _publisher = publisher;
        _socketPath = socketPath;
    }

    /// <summary>The socket it serves on.</summary>
    public string SocketPath => _socketPath;

    /// <summary>Starts serving on <see cref="NodeRelayServerOptions.SocketPath"/> (its directory is created; a stale socket file is replaced).</summary>
    /// <param name="api">The agent's API client (its own credentials) for the watches.</param>
    /// <param name="authorizer">Decides what each caller's token may read (<see cref="TokenListAuthorizer"/>).</param>
    /// <param name="options">The relay's options.</param>
    /// <param name="watchOptions">Watch timing and sharing (the SDK's options; <see cref="KubernetesSourceOptions.NamespaceWatchThreshold"/> and the delays apply).</param>
    /// <param name="loggerFactory">Loggers.</param>
    /// <param name="timeProvider">The clock of the watches and re-checks.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="IOException">The socket cannot be bound (the message names the path).</exception>
    public static async Task<NodeRelayServer> StartAsync(KubernetesApiClient api, IRelayAuthorizer authorizer, NodeRelayServerOptions options, KubernetesSourceOptions? watchOptions = null,
        ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(authorizer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ILoggerFactory loggers = loggerFactory ?? NullLoggerFactory.Instance;
        TimeProvider time = timeProvider ?? TimeProvider.System;
        string path = Path.GetFullPath(options.SocketPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (File.Exists(path))
        {
            File.Delete(path); // left by an agent that was killed: nobody serves it
        }
        var publisher = new NodeRelayPublisher(api, authorizer, options.AuthorizationRecheck, watchOptions, loggers, time);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.Services.AddSingleton<RelayEndpoint>();
        builder.Services.AddSingleton<IServiceMethodProvider<RelayEndpoint>>(new RelayMethods(publisher));
        builder.Services.AddGrpc();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // A process opens one stream per Service it follows, on one connection: allow many more than Kestrel's 100.
            kestrel.Limits.Http2.MaxStreamsPerConnection = 10_000;
            kestrel.ListenUnixSocket(path, listen => listen.Protocols = HttpProtocols.Http2);
        });
        WebApplication app = builder.Build();
        app.MapGrpcService<RelayEndpoint>();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            await publisher.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"The node relay cannot listen on '{path}': {ex.Message}", ex);
        }
        // Pods run as other users: anyone on the node may connect (connecting needs write access to the socket); what
        // each caller may read is decided by its token.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        }
        return new NodeRelayServer(app, publisher, path);
    }

    /// <summary>The Services followed now and how many streams follow each (what <c>List</c> answers).</summary>
    public IReadOnlyList<(string Service, int References)> Watched => _publisher.Watched;

    /// <summary>Stops serving: open streams end (their SDKs fall back to their own watches), the watches stop, the socket file goes.</summary>
    public async ValueTask DisposeAsync()
    {
        // Streams never end by themselves: abort them at once, so every SDK switches to its own watch now.
        await _app.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        await _publisher.DisposeAsync().ConfigureAwait(false);
        File.Delete(_socketPath);
    }
}
