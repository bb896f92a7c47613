using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Source;
using ClientLb.Dns.Tests.Infrastructure;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Testing;
using Microsoft.Extensions.Options;

namespace ClientLb.Dns.Tests.Source;

/// <summary>Builds DNS sources against a dnsmasq, with a fake clock for refresh scheduling and real time for query timeouts.</summary>
internal sealed class SourceHarness
{
    public SourceHarness(Dnsmasq dns, Action<DnsSourceOptions>? configure = null)
        : this(dns.Endpoint, configure)
    {
    }

    public SourceHarness(System.Net.IPEndPoint server, Action<DnsSourceOptions>? configure = null)
    {
        Options = new DnsSourceOptions
        {
            ResolvConfPath = null,
            Servers = [server.ToString()],
            Timeout = TimeSpan.FromMilliseconds(300),
            Attempts = 1,
        };
        configure?.Invoke(Options);
        Settings = DnsResolverSettings.FromOptions(Options);
        Factory = new DnsEndpointSourceFactory(Microsoft.Extensions.Options.Options.Create(Options), new DnsStubClient(Settings), Settings, Clock, Logs);
    }

    public DnsSourceOptions Options { get; }

    public DnsResolverSettings Settings { get; }

    public TrackingTimeProvider Clock { get; } = new();

    public ListLoggerFactory Logs { get; } = new();

    public DnsEndpointSourceFactory Factory { get; }

    public DnsEndpointSource Create(string name) =>
        (DnsEndpointSource)(Factory.TryCreate(ServiceName.Parse(name)) ?? throw new InvalidOperationException($"The factory does not serve '{name}'."));
}
