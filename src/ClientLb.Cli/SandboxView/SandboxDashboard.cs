using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Registry;
using ClientLb.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ClientLb.Cli.SandboxView;

/// <summary>
/// The sandbox's web view (<c>clientlb sandbox --dashboard-port</c>): the ClientLb dashboard at <c>/</c> for every
/// Service of the cluster (an in-process client follows each one through the Kubernetes source on the sandbox's API
/// server), and the cluster side at <c>/cluster/</c>: Services with their ClusterIPs, the records the cluster DNS answers, EndpointSlices and pods,
/// Deployments with a scale action, pod deletion, readiness and faults (fail with 503, slow by 500 ms), and a traffic generator whose per-pod distribution the dashboard's
/// chart draws, and the rules a running agent programmed (<see cref="AgentRules"/>). Actions go through the sandbox's API server over HTTP, as kubectl's do, and show its error.
/// </summary>
internal sealed class SandboxDashboard : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServiceFollower _follower;
    private readonly TrafficGenerator _traffic;
    private readonly AgentRules _agent;

    private SandboxDashboard(WebApplication app, ServiceFollower follower, TrafficGenerator traffic, AgentRules agent, Uri address)
    {
        _agent = agent;
        _app = app;
        _follower = follower;
        _traffic = traffic;
        Address = address;
    }

    /// <summary>Where the view is served, e.g. http://127.0.0.1:8090/.</summary>
    public Uri Address { get; }

    /// <summary>The registry of the view's client (every Service of the cluster is leased in it).</summary>
    public ServiceRegistry Registry => _app.Services.GetRequiredService<ServiceRegistry>();

    /// <summary>
    /// Starts the view on 127.0.0.1:<paramref name="port"/>; <paramref name="agentMetrics"/> is the listener of a running
    /// <c>clientlb agent</c> (its <c>--metrics-port</c>) whose <c>/rules</c> the cluster side shows, or null.
    /// </summary>
    public static async Task<SandboxDashboard> StartAsync(SandboxCluster cluster, int port, CancellationToken cancellationToken, string clusterDomain = "cluster.local", Uri? agentMetrics = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "ClientLb.SandboxView", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        // The clientlb command owns Ctrl-C and SIGTERM; the default ConsoleLifetime would take SIGTERM from it (cancelling
        // the process's termination and stopping only this web app), so the sandbox would keep running.
        builder.Services.AddSingleton<IHostLifetime, CommandOwnedLifetime>();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        builder.Services.AddHttpClient(TrafficGenerator.ClientName).AddClientLb();
        WebApplication app = builder.Build();
        app.MapClientLbDashboard("/", o => o.Title = "ClientLb sandbox");

        var follower = new ServiceFollower(cluster, app.Services.GetRequiredService<ServiceRegistry>());
        var traffic = new TrafficGenerator(app.Services.GetRequiredService<IHttpClientFactory>());
        var agent = new AgentRules(agentMetrics);
        var api = new ClusterApi(cluster, traffic, cluster.DnsEndPoint is { } dnsServer ? new ClusterDns(dnsServer, clusterDomain) : null, agent);
        // One route for /cluster and /cluster/ (routing ignores a trailing slash): the page needs the slash for its links.
        app.MapGet("/cluster", context =>
        {
            if (context.Request.Path.Value!.EndsWith('/'))
            {
                return ClusterAssets.Serve(context, "cluster.html");
            }
            context.Response.Redirect("/cluster/");
            return Task.CompletedTask;
        });
        app.MapGet("/cluster/assets/{file}", context => ClusterAssets.Serve(context, (string)context.GetRouteValue("file")!));
        app.MapGet("/cluster/api/state", api.StateAsync);
        app.MapGet("/cluster/api/events", api.EventsAsync);
        app.MapPost("/cluster/api/scale", api.ScaleAsync);
        app.MapPost("/cluster/api/delete-pod", api.DeletePodAsync);
        app.MapPost("/cluster/api/pod-ready", api.PodReadyAsync);
        app.MapPost("/cluster/api/pod-fault", api.PodFaultAsync);
        app.MapPost("/cluster/api/traffic", api.TrafficAsync);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync();
            agent.Dispose();
            throw new IOException($"the sandbox dashboard could not listen on 127.0.0.1:{port}: {ex.Message}", ex);
        }
        follower.Start();
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SandboxDashboard(app, follower, traffic, agent, new Uri(bound + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _traffic.DisposeAsync();
        await _follower.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _agent.Dispose();
    }

    /// <summary>A host lifetime that leaves the process's signals to the command, which stops the view by disposing it.</summary>
    private sealed class CommandOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
