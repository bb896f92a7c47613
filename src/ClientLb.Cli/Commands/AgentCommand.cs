using System.CommandLine;
using System.Net;
using System.Text;
using ClientLb.Agent;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Diagnostics;
using ClientLb.Agent.Interop;
using ClientLb.Agent.Model;
using ClientLb.Agent.Relay;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;

namespace ClientLb.Cli.Commands;

/// <summary>
/// <c>clientlb agent</c>: programs Service VIPs into nftables from the Kubernetes watch (<see cref="KubernetesAgentController"/>
/// feeding an <see cref="NftablesAgent"/>), with an optional loopback <c>/healthz</c> and <c>/metrics</c> listener.
/// </summary>
internal static class AgentCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "The kubeconfig (default: KUBECONFIG, then ~/.kube/config, or in-cluster)." };
        var mode = new Option<string>("--mode") { Description = "node (all services of the namespace(s), pod and node traffic) or sidecar (the --service list, this namespace's own traffic).", DefaultValueFactory = _ => "sidecar" };
        mode.AcceptOnlyFromAmong("node", "sidecar");
        var netns = new Option<string?>("--netns") { Description = "Program the network namespace /var/run/netns/NAME instead of the agent's own." };
        var ns = new Option<string?>("--namespace", "-n") { Description = "Node mode: watch only this namespace (default: all namespaces)." };
        var selector = new Option<string?>("--selector", "-l") { Description = "Node mode: only Services matching this label selector." };
        var service = new Option<string[]>("--service") { Description = "Sidecar mode: a service to program, as namespace/name (repeatable).", AllowMultipleArgumentsPerToken = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the ruleset transactions instead of running them; the kernel is not touched." };
        var once = new Option<bool>("--once") { Description = "Sync once from a list and exit." };
        var cleanup = new Option<bool>("--cleanup") { Description = "Delete the clientlb tables (ip and ip6) and exit." };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Serve /healthz, /metrics and /rules (what is programmed, as JSON) on http://127.0.0.1:N/ (or --metrics-address)." };
        var metricsAddress = new Option<string>("--metrics-address")
        {
            Description = "The address of the /healthz and /metrics listener: 127.0.0.1 (default; enough for a hostNetwork DaemonSet's probes), the pod IP, or 0.0.0.0 (a sidecar, whose probes come from outside the pod).",
            DefaultValueFactory = _ => "127.0.0.1",
        };

        var relaySocket = new Option<string?>("--relay-socket")
        {
            Description = $"Node mode: serve the node relay (the Services and EndpointSlices the node's SDKs ask for, one API watch per resource for the node) on this Unix socket, e.g. {ClientLb.Kubernetes.NodeRelayOptions.DefaultSocketPath}.",
        };

        var command = new Command("agent", "Program Service VIPs into nftables from the Kubernetes API (node or sidecar agent).")
        {
            kubeconfig, mode, netns, ns, selector, service, dryRun, once, cleanup, metricsPort, metricsAddress, relaySocket,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            async Task<int> Fail(string message)
            {
                await error.WriteLineAsync("clientlb agent: " + message);
                return 1;
            }

            bool sidecar = parse.GetValue(mode) == "sidecar";
            string[] services = parse.GetValue(service) ?? [];
            string? nsValue = parse.GetValue(ns);
            string? selectorValue = parse.GetValue(selector);
            bool dry = parse.GetValue(dryRun);
            var agentOptions = new NftablesAgentOptions
            {
                Mode = sidecar ? AgentMode.Sidecar : AgentMode.Node,
                NetworkNamespace = parse.GetValue(netns),
                DryRun = dry,
                DryRunOutput = dry ? output : null,
            };
            try
            {
                agentOptions.Validate();
            }
            catch (ArgumentException ex)
            {
                return await Fail($"--netns: {ex.Message}");
            }
            if (parse.GetValue(cleanup))
            {
                if (parse.GetValue(once))
                {
                    return await Fail("--cleanup and --once exclude each other.");
                }
                try
                {
                    using var cleaner = new NftablesAgent(agentOptions);
                    await cleaner.CleanupAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is NftablesException or DllNotFoundException)
                {
                    return await Fail(ex.Message);
                }
                await output.WriteLineAsync(dry ? "# dry run: the tables above would be deleted" : "deleted tables ip clientlb and ip6 clientlb");
                return 0;
            }

            var controllerOptions = new KubernetesAgentControllerOptions { Services = services, Namespace = nsValue, LabelSelector = selectorValue };
            if (sidecar)
            {
                if (services.Length == 0)
                {
                    return await Fail("--service: --mode sidecar needs at least one --service namespace/name.");
                }
                if (nsValue is not null || selectorValue is not null)
                {
                    return await Fail($"{(nsValue is not null ? "--namespace" : "--selector")} is for --mode node; sidecar mode programs the --service list.");
                }
            }
            else if (services.Length > 0)
            {
                return await Fail("--service is for --mode sidecar; node mode programs every service of --namespace (default: all namespaces).");
            }
            string? relayPath = parse.GetValue(relaySocket);
            if (relayPath is not null && (sidecar || parse.GetValue(once)))
            {
                return await Fail("--relay-socket serves the node's SDKs: it needs --mode node and no --once.");
            }
            try
            {
                controllerOptions.Validate();
            }
            catch (ArgumentException ex)
            {
                string option = ex.ParamName switch
                {
                    nameof(KubernetesAgentControllerOptions.Namespace) => "--namespace",
                    nameof(KubernetesAgentControllerOptions.LabelSelector) => "--selector",
                    _ => "--service",
                };
                return await Fail($"{option}: {ex.Message}");
            }
            int? port = parse.GetValue(metricsPort);
            if (port is < 1 or > 65535)
            {
                return await Fail($"--metrics-port: {port} is not a TCP port (1-65535).");
            }
            string listenAddress = parse.GetValue(metricsAddress)!;
            if (!IPAddress.TryParse(listenAddress, out IPAddress? parsedAddress))
            {
                return await Fail($"--metrics-address: '{listenAddress}' is not an IP address.");
            }
            // HttpListener's "any address" is the host *.
            string listenHost = parsedAddress.Equals(IPAddress.Any) ? "*" : parsedAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{parsedAddress}]" : parsedAddress.ToString();

            KubernetesClientConfiguration? configuration;
            string? kubeconfigPath = parse.GetValue(kubeconfig);
            try
            {
                configuration = KubernetesConnection.TryResolve(new KubernetesSourceOptions
                {
                    KubeconfigPath = kubeconfigPath,
                    Mode = kubeconfigPath is null ? KubernetesConfigMode.Auto : KubernetesConfigMode.Kubeconfig,
                }, out string reason);
                if (configuration is null)
                {
                    return await Fail($"--kubeconfig: no Kubernetes configuration found ({reason}).");
                }
            }
            catch (KubernetesConfigException ex)
            {
                return await Fail("--kubeconfig: " + ex.Message);
            }

            using KubernetesApiClient api = KubernetesApiClient.FromConfiguration(configuration);
            NftablesAgent agent;
            try
            {
                agent = new NftablesAgent(agentOptions);
            }
            catch (Exception ex) when (ex is NftablesException or DllNotFoundException)
            {
                return await Fail(ex.Message);
            }
            using NftablesAgent disposeAgent = agent;
            object gate = new object();
            controllerOptions.OnBatch = batch =>
            {
                lock (gate)
                {
                    Report(batch, dry, output, error);
                }
            };
            var controller = new KubernetesAgentController(api, agent, controllerOptions);
            try
            {
                if (parse.GetValue(once))
                {
                    await controller.SyncOnceAsync(cancellationToken);
                    return 0;
                }
                using MetricsListener? listener = port is int p ? MetricsListener.Start(listenHost, p, agent) : null;
                await using NodeRelayServer? relay = relayPath is null ? null
                    : await NodeRelayServer.StartAsync(api, new TokenListAuthorizer(configuration), new NodeRelayServerOptions { SocketPath = relayPath }, cancellationToken: cancellationToken);
                if (relay is not null)
                {
                    await output.WriteLineAsync($"serving the node relay on unix:{relay.SocketPath}");
                }
                if (listener is not null)
                {
                    await output.WriteLineAsync($"serving /healthz, /metrics and /rules on {listener.Prefix}");
                }
                await output.FlushAsync(cancellationToken);
                await controller.RunAsync(cancellationToken);
                return 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return 0;
            }
            catch (IOException ex) when (relayPath is not null && ex.Message.Contains(relayPath, StringComparison.Ordinal))
            {
                return await Fail("--relay-socket: " + ex.Message);
            }
            catch (HttpListenerException ex)
            {
                return await Fail($"--metrics-port: cannot listen on {listenAddress}:{port}: {ex.Message}");
            }
            catch (Exception ex) when (ex is KubernetesApiException or HttpRequestException or NftablesException or DllNotFoundException or InvalidDataException)
            {
                return await Fail(ex.Message);
            }
        });
        return command;
    }

    /// <summary>One line per sync; in a dry run also every service sent, so the output shows what the rules are made of.</summary>
    private static void Report(AgentBatch batch, bool dry, TextWriter output, TextWriter error)
    {
        SyncResult r = batch.Result;
        if (dry)
        {
            foreach (ServiceState s in batch.Upserts)
            {
                var line = new StringBuilder($"# service {s.Key}: {string.Join(",", s.ClusterIPs)}");
                if (s.ClientIPAffinityTimeoutSeconds is int timeout)
                {
                    line.Append($" affinity ClientIP {timeout}s");
                }
                foreach (ServicePortState p in s.Ports)
                {
                    line.Append($"; {p.Protocol.ToString().ToLowerInvariant()} {p.Port} ->");
                    line.Append(p.Endpoints.IsEmpty ? " (none)" : " " + string.Join(" ", p.Endpoints.Select(e => $"{e.Host}:{e.Port}{(e.Conditions.Ready ? "" : " (not ready)")}")));
                }
                output.WriteLine(line.ToString());
            }
            foreach (string key in batch.Removed)
            {
                output.WriteLine($"# removed {key}");
            }
        }
        output.WriteLine($"# {(batch.Full ? "sync" : "apply")}: {batch.Upserts.Count} service(s) sent, {batch.Removed.Count} removed, {r.ServicesChanged} changed, " +
            $"+{r.ElementsAdded}/-{r.ElementsDeleted} elements in {r.Transactions} transaction(s), {r.Duration.TotalMilliseconds:F1} ms");
        output.Flush();
        foreach (ServiceRejection rejection in r.Rejected)
        {
            error.WriteLine($"clientlb agent: rejected {rejection.Service}: {rejection.Reason}");
        }
        foreach (string failure in r.ConntrackFailures)
        {
            error.WriteLine($"clientlb agent: conntrack cleanup failed: {failure}");
        }
        error.Flush();
    }

    /// <summary>
    /// The listener (loopback by default) for <c>/healthz</c> (200 when the last sync succeeded, else 503), <c>/metrics</c>
    /// and <c>/rules</c> (the agent's programmed services as JSON, read-only).
    /// </summary>
    private sealed class MetricsListener : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly NftablesAgent _agent;
        private readonly Task _loop;

        private MetricsListener(string host, int port, NftablesAgent agent)
        {
            _agent = agent;
            Prefix = $"http://{host}:{port}/";
            _listener.Prefixes.Add(Prefix);
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public string Prefix { get; }

        public static MetricsListener Start(string host, int port, NftablesAgent agent) => new(host, port, agent);

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return; // stopped
                }
                // Not awaited: /rules waits for a sync in progress, and a probe of /healthz must not queue behind it.
                _ = ServeSafelyAsync(context);
            }
        }

        private async Task ServeSafelyAsync(HttpListenerContext context)
        {
            try
            {
                await ServeAsync(context);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
            {
                // the client went away, or the listener stopped
            }
        }

        private async Task ServeAsync(HttpListenerContext context)
        {
            HttpListenerResponse response = context.Response;
            string body;
            byte[]? bytes = null;
            switch (context.Request.Url?.AbsolutePath)
            {
                case "/healthz":
                    bool healthy = _agent.Metrics.IsHealthy(TimeSpan.Zero, DateTimeOffset.UtcNow);
                    response.StatusCode = healthy ? 200 : 503;
                    body = healthy ? "ok\n" : $"unhealthy: {_agent.Metrics.LastError ?? "no successful sync yet"}\n";
                    response.ContentType = "text/plain; charset=utf-8";
                    break;
                case "/metrics":
                    var text = new StringWriter { NewLine = "\n" };
                    _agent.Metrics.WritePrometheus(text);
                    body = text.ToString();
                    response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                    break;
                case "/rules":
                    ProgrammedRules rules = await _agent.GetProgrammedRulesAsync();
                    bytes = rules.ToJsonBytes();
                    body = "";
                    response.ContentType = "application/json; charset=utf-8";
                    break;
                default:
                    response.StatusCode = 404;
                    body = "not found: try /healthz, /metrics or /rules\n";
                    response.ContentType = "text/plain; charset=utf-8";
                    break;
            }
            bytes ??= Encoding.UTF8.GetBytes(body);
            response.ContentLength64 = bytes.Length;
            await response.OutputStream.WriteAsync(bytes);
            response.Close();
        }

        public void Dispose()
        {
            _listener.Close();
            try
            {
                _loop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }
        }
    }
}
