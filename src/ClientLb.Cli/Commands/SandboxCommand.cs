using System.CommandLine;
using ClientLb.Sandbox;

namespace ClientLb.Cli.Commands;

/// <summary><c>clientlb sandbox</c>: runs an embedded cluster (API server, cluster DNS, loopback pods) until Ctrl-C.</summary>
internal static class SandboxCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var manifests = new Option<FileInfo[]>("--manifest", "-f") { Description = "YAML manifests to apply at start (several allowed).", AllowMultipleArgumentsPerToken = true };
        var apiPort = new Option<int>("--api-port") { Description = "API server port on 127.0.0.1 (0 picks a free one).", DefaultValueFactory = _ => 0 };
        var dnsPort = new Option<int>("--dns-port") { Description = "Cluster DNS port on 127.0.0.1, UDP and TCP (0 picks a free one).", DefaultValueFactory = _ => 0 };
        var kubeconfig = new Option<string?>("--kubeconfig-out") { Description = "Where to write the kubeconfig (default: a temporary file, deleted at exit)." };
        var https = new Option<bool>("--https") { Description = "Serve HTTPS with a generated CA and require a bearer token (both in the kubeconfig)." };
        var authorization = new Option<string>("--authorization") { Description = "How requests are authorized: alwaysallow (default) or rbac (service-account tokens are allowed only by stored Roles and bindings).", DefaultValueFactory = _ => "alwaysallow" };
        authorization.AcceptOnlyFromAmong("alwaysallow", "rbac");
        var dashboardPort = new Option<int?>("--dashboard-port") { Description = "Serve the web view on 127.0.0.1:PORT (0 picks a free one): every Service as ClientLb balances it, and the cluster side with scale, delete and a traffic generator." };
        var agentMetrics = new Option<string?>("--agent-metrics") { Description = "With --dashboard-port: the /healthz, /metrics and /rules listener of a running clientlb agent (its --metrics-port, e.g. http://127.0.0.1:9464); the cluster side shows its programmed rules." };
        agentMetrics.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string?>();
            if (value is not null && (!Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) || uri.Scheme != Uri.UriSchemeHttp))
            {
                r.AddError($"--agent-metrics: '{value}' is not an http:// URL (the agent's listener, e.g. http://127.0.0.1:9464).");
            }
        });
        var noServiceProxy = new Option<bool>("--no-service-proxy") { Description = "Do not listen on the Services' ClusterIP:port addresses (the userspace service proxy is on by default)." };
        foreach (Option<int> port in new[] { apiPort, dnsPort })
        {
            port.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 0 or > 65535) { r.AddError($"{port.Name} must be a port number (0-65535)."); } });
        }
        dashboardPort.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is < 0 or > 65535) { r.AddError("--dashboard-port must be a port number (0-65535)."); } });

        var command = new Command("sandbox", "Run an embedded Kubernetes-like cluster for tests and demos until Ctrl-C.")
        {
            manifests, apiPort, dnsPort, kubeconfig, https, noServiceProxy, authorization, dashboardPort, agentMetrics,
        };
        command.Validators.Add(r =>
        {
            if (r.GetValue(agentMetrics) is not null && r.GetValue(dashboardPort) is null)
            {
                r.AddError("--agent-metrics needs --dashboard-port: the agent's rules are shown in the web view.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new SandboxOptions
            {
                ApiPort = parse.GetValue(apiPort),
                DnsPort = parse.GetValue(dnsPort),
                KubeconfigPath = parse.GetValue(kubeconfig),
                UseHttps = parse.GetValue(https),
                EnableServiceProxy = !parse.GetValue(noServiceProxy),
                Authorization = parse.GetValue(authorization) == "rbac" ? SandboxAuthorization.Rbac : SandboxAuthorization.AlwaysAllow,
            };
            // Read every manifest before starting, so a missing file fails fast and names itself.
            var yaml = new List<(string File, string Text)>();
            foreach (FileInfo file in parse.GetValue(manifests) ?? [])
            {
                if (!file.Exists)
                {
                    await error.WriteLineAsync($"clientlb sandbox: manifest '{file.FullName}' does not exist.");
                    return 1;
                }
                yaml.Add((file.FullName, await File.ReadAllTextAsync(file.FullName, cancellationToken)));
            }

            SandboxCluster cluster;
            try
            {
                cluster = await SandboxCluster.StartAsync(options, cancellationToken);
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync("clientlb sandbox: " + ex.Message);
                return 1;
            }
            catch (IOException ex)
            {
                await error.WriteLineAsync("clientlb sandbox: could not listen: " + ex.Message);
                return 1;
            }
            await using (cluster)
            {
                foreach ((string file, string text) in yaml)
                {
                    try
                    {
                        await cluster.ApplyManifestAsync(text);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        await error.WriteLineAsync($"clientlb sandbox: applying '{file}' failed: {ex.Message}");
                        return 1;
                    }
                    await output.WriteLineAsync($"applied {file}");
                }
                await output.WriteLineAsync($"api server: {cluster.ApiServerUri}");
                await output.WriteLineAsync($"kubeconfig: {cluster.KubeconfigPath}");
                await output.WriteLineAsync($"cluster dns: {cluster.DnsEndPoint} (udp and tcp)");
                await output.WriteLineAsync(options.EnableServiceProxy
                    ? "service proxy: on (Services answer on their ClusterIP:port from this host; kubectl logs -n kube-system -l k8s-app=kube-proxy)"
                    : "service proxy: off (--no-service-proxy)");
                await output.WriteLineAsync($"try: kubectl --kubeconfig {cluster.KubeconfigPath} get pods,svc,endpointslices -A");
                SandboxView.SandboxDashboard? view = null;
                if (parse.GetValue(dashboardPort) is int port)
                {
                    try
                    {
                        Uri? agent = parse.GetValue(agentMetrics) is string url ? new Uri(url.EndsWith('/') ? url : url + "/") : null;
                        view = await SandboxView.SandboxDashboard.StartAsync(cluster, port, cancellationToken, options.ClusterDomain, agent);
                    }
                    catch (IOException ex)
                    {
                        await error.WriteLineAsync("clientlb sandbox: " + ex.Message);
                        return 1;
                    }
                    await output.WriteLineAsync($"dashboard: {view.Address} (cluster side: {view.Address}cluster/)");
                }
                await output.WriteLineAsync("press Ctrl-C to stop");
                await output.FlushAsync(cancellationToken);
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }
                if (view is not null)
                {
                    await view.DisposeAsync();
                }
            }
            return 0;
        });
        return command;
    }
}
