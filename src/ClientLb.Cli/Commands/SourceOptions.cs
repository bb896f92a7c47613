using System.CommandLine;
using ClientLb.Dns.Configuration;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;

namespace ClientLb.Cli.Commands;

/// <summary>
/// The options <c>resolve</c> and <c>watch</c> share: which source, and how to reach it. <c>auto</c> is the SDK's
/// chain: Kubernetes when a kubeconfig or in-cluster configuration is found, else DNS.
/// </summary>
internal sealed class SourceOptions
{
    public Argument<string> Name { get; } = new("name") { Description = "The service: svc, svc.ns, svc.ns.svc.cluster.local, http://svc.ns:8080, _port.svc.ns, _port._tcp.svc.ns.svc.cluster.local (SRV)." };
    public Option<string> Source { get; } = new("--source") { Description = "Where to look: auto, kubernetes, dns or config.", DefaultValueFactory = _ => "auto" };
    public Option<string?> Kubeconfig { get; } = new("--kubeconfig") { Description = "The kubeconfig (default: KUBECONFIG, then ~/.kube/config, or in-cluster)." };
    public Option<string?> Namespace { get; } = new("--namespace", "-n") { Description = "The namespace of names without one (default: the kubeconfig context's, else default)." };
    public Option<string?> Port { get; } = new("--port") { Description = "The port, by name (http) or number (8080), when the name has none." };
    public Option<string[]> DnsServer { get; } = new("--dns-server") { Description = "DNS server(s) as IP or IP:port, replacing resolv.conf's nameserver lines.", AllowMultipleArgumentsPerToken = true };
    public Option<string?> ResolvConf { get; } = new("--resolv-conf") { Description = "The resolver file to read (default /etc/resolv.conf)." };
    public Option<DnsResolutionMode> DnsMode { get; } = new("--dns-mode") { Description = "DNS mode: Auto (SRV for a named port, else A/AAAA), Srv, Headless, ClusterIp.", DefaultValueFactory = _ => DnsResolutionMode.Auto };
    public Option<FileInfo?> Config { get; } = new("--config") { Description = "A JSON configuration file with ClientLb:Services (or Services:) entries, for --source config." };
    public Option<string> Output { get; } = new("--output", "-o") { Description = "table or json.", DefaultValueFactory = _ => "table" };
    public Option<bool> AllowLoopback { get; } = new("--allow-loopback") { Description = "Accept endpoints on 127.0.0.0/8 and ::1 from DNS (a local test server) and from any Kubernetes API server (without it, only from one on loopback, such as the sandbox)." };

    public SourceOptions()
    {
        Source.AcceptOnlyFromAmong("auto", "kubernetes", "dns", "config");
        Output.AcceptOnlyFromAmong("table", "json");
    }

    public void AddTo(Command command)
    {
        command.Arguments.Add(Name);
        foreach (Option option in new Option[] { Source, Kubeconfig, Namespace, Port, DnsServer, ResolvConf, DnsMode, Config, Output, AllowLoopback })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>Builds a container with only the chosen sources registered.</summary>
    /// <exception cref="ArgumentException">An option is missing or wrong; the message names it.</exception>
    public ServiceProvider BuildServices(ParseResult parse)
    {
        string source = parse.GetValue(Source)!;
        var services = new ServiceCollection();
        IConfiguration configuration = new ConfigurationBuilder().Build();
        if (source == "config")
        {
            FileInfo file = parse.GetValue(Config) ?? throw new ArgumentException("--source config needs --config FILE (a JSON file with ClientLb:Services entries).");
            if (!file.Exists)
            {
                throw new ArgumentException($"--config '{file.FullName}' does not exist.");
            }
            configuration = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false).Build();
        }
        services.AddSingleton(configuration);

        string? ns = parse.GetValue(Namespace);
        string? kubeconfig = parse.GetValue(Kubeconfig);
        if (source is "auto" or "kubernetes")
        {
            var k8s = new KubernetesSourceOptions { KubeconfigPath = kubeconfig, Mode = source == "kubernetes" && kubeconfig is not null ? KubernetesConfigMode.Kubeconfig : KubernetesConfigMode.Auto };
            if (source == "kubernetes" && KubernetesConnection.TryResolve(k8s, out string reason) is null)
            {
                throw new ArgumentException($"--source kubernetes: no Kubernetes configuration found ({reason}); pass --kubeconfig.");
            }
            ns ??= KubernetesConnection.TryResolve(k8s, out _)?.Namespace;
            services.AddClientLbKubernetes(o =>
            {
                o.KubeconfigPath = k8s.KubeconfigPath;
                o.Mode = k8s.Mode;
                o.AllowLoopbackEndpoints = parse.GetValue(AllowLoopback) ? true : null; // null: allowed when the API server is on loopback (the sandbox)
            });
        }
        if (source is "auto" or "dns")
        {
            services.AddClientLbDns(o =>
            {
                string[] servers = parse.GetValue(DnsServer) ?? [];
                if (servers.Length > 0)
                {
                    o.Servers = servers;
                }
                if (parse.GetValue(ResolvConf) is string file)
                {
                    o.ResolvConfPath = file;
                }
                o.Mode = parse.GetValue(DnsMode);
                o.AllowLoopbackEndpoints = parse.GetValue(AllowLoopback);
            });
        }
        services.AddClientLb(o => o.Namespace = ns);
        return services.BuildServiceProvider();
    }

    /// <summary>The Kubernetes configuration the chosen source uses, or null for DNS/config or when none is found.</summary>
    public KubernetesClientConfiguration? KubernetesConfiguration(ParseResult parse)
    {
        string source = parse.GetValue(Source)!;
        string? kubeconfig = parse.GetValue(Kubeconfig);
        return source is "auto" or "kubernetes"
            ? KubernetesConnection.TryResolve(new KubernetesSourceOptions { KubeconfigPath = kubeconfig, Mode = kubeconfig is not null ? KubernetesConfigMode.Kubeconfig : KubernetesConfigMode.Auto }, out _)
            : null;
    }

    /// <summary>The service name from the argument, with <c>--port</c> applied.</summary>
    public ServiceName ServiceNameFrom(ParseResult parse, ServiceRegistry registry)
    {
        ServiceName name = ServiceName.Parse(parse.GetValue(Name)!, registry.Defaults);
        if (parse.GetValue(Port) is not string port)
        {
            return name;
        }
        if (name.Port is not null || name.PortName is not null)
        {
            throw new ArgumentException($"--port '{port}' conflicts with the port already in '{parse.GetValue(Name)}'.");
        }
        return int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number)
            ? ServiceName.Create(name.Name, name.Namespace, name.ClusterDomain, port: number)
            : ServiceName.Create(name.Name, name.Namespace, name.ClusterDomain, portName: port);
    }
}
