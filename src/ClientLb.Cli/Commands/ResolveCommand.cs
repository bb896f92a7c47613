using System.CommandLine;
using System.Text.Json;
using ClientLb.Dns.Configuration;
using ClientLb.Endpoints;
using ClientLb.LoadBalancing;
using ClientLb.ServiceDiscovery;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Cli.Commands;

/// <summary><c>clientlb resolve NAME --source dns</c>: what a source says about a service, as a table or JSON.</summary>
internal static class ResolveCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var name = new Argument<string>("name") { Description = "The service: svc, svc.ns, svc.ns.svc.cluster.local, http://svc.ns:8080, _port.svc.ns." };
        var source = new Option<string>("--source") { Description = "Where to look: dns.", DefaultValueFactory = _ => "dns" };
        source.AcceptOnlyFromAmong("dns");
        var dnsServer = new Option<string[]>("--dns-server") { Description = "DNS server(s) as IP or IP:port, replacing resolv.conf's nameserver lines.", AllowMultipleArgumentsPerToken = true };
        var resolvConf = new Option<string?>("--resolv-conf") { Description = "The resolver file to read (default /etc/resolv.conf)." };
        var mode = new Option<DnsResolutionMode>("--mode") { Description = "DNS mode: Auto (SRV for a named port, else A/AAAA), Srv, Headless, ClusterIp.", DefaultValueFactory = _ => DnsResolutionMode.Auto };
        var port = new Option<int?>("--port") { Description = "The port for A/AAAA answers when the name has neither a port nor a scheme." };
        var ns = new Option<string?>("--namespace", "-n") { Description = "The namespace of names without one." };
        var outputFormat = new Option<string>("--output", "-o") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        outputFormat.AcceptOnlyFromAmong("text", "json");
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the first answer.", DefaultValueFactory = _ => 10 };

        var command = new Command("resolve", "Resolve a service to its endpoints through a ClientLb source.")
        {
            name, source, dnsServer, resolvConf, mode, port, ns, outputFormat, timeout,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var services = new ServiceCollection();
            services.AddClientLb(o => o.Namespace = parse.GetValue(ns));
            services.AddClientLbDns(o =>
            {
                string[] servers = parse.GetValue(dnsServer) ?? [];
                if (servers.Length > 0)
                {
                    o.Servers = servers;
                }
                if (parse.GetValue(resolvConf) is string file)
                {
                    o.ResolvConfPath = file;
                }
                o.Mode = parse.GetValue(mode);
                o.DefaultPort = parse.GetValue(port);
            });
            await using ServiceProvider provider = services.BuildServiceProvider();
            try
            {
                ServiceRegistry registry = provider.GetRequiredService<ServiceRegistry>();
                ServiceBalancer balancer = registry.GetBalancer(parse.GetValue(name)!);
                await balancer.EnsureReadyAsync(TimeSpan.FromSeconds(parse.GetValue(timeout)), cancellationToken);
                ResolveResult result = ResolveResult.From(balancer);
                if (parse.GetValue(outputFormat) == "json")
                {
                    await output.WriteLineAsync(JsonSerializer.Serialize(result, CliJsonContext.Default.ResolveResult));
                }
                else
                {
                    ResolveResult.WriteTable(result, output);
                }
                return result.Endpoints.Count > 0 ? 0 : 2;
            }
            catch (ServiceNotFoundException ex) when (ex.Service is { Port: null, PortName: null, Schemes.Count: 0 } && parse.GetValue(port) is null)
            {
                await error.WriteLineAsync($"clientlb resolve: '{ex.Service}' has no port, no http/https scheme and no named port, so DNS A/AAAA answers give no port: pass --port N, a URL such as http://{ex.Service.Key}, or a named port such as {ex.Service.Key}:http.");
                return 1;
            }
            catch (Exception ex) when (ex is ServiceNameFormatException or ServiceNotFoundException or NoEndpointsException
                or Microsoft.Extensions.Options.OptionsValidationException or FormatException)
            {
                await error.WriteLineAsync("clientlb resolve: " + ex.Message);
                return 1;
            }
        });
        return command;
    }
}
