using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Resolution;
using ClientLb.Names;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ClientLb.Dns.Source;

/// <summary>
/// Makes DNS sources. A name with a named port gets SRV (in <see cref="DnsResolutionMode.Auto"/>); otherwise
/// A/AAAA on the port from the name, the URL scheme, or <see cref="DnsSourceOptions.DefaultPort"/>. Names without
/// any of those are not served (null), so a later factory such as the Kubernetes one can take them.
/// </summary>
internal sealed partial class DnsEndpointSourceFactory : IEndpointSourceFactory
{
    private readonly DnsSourceOptions _options;
    private readonly DnsResolver _resolver;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;

    /// <summary>Creates the factory.</summary>
    public DnsEndpointSourceFactory(IOptions<DnsSourceOptions> options, IDnsClient client, DnsResolverSettings settings, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _resolver = new DnsResolver(client ?? throw new ArgumentNullException(nameof(client)), settings ?? throw new ArgumentNullException(nameof(settings)));
        _time = timeProvider ?? TimeProvider.System;
        _loggers = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger<DnsEndpointSourceFactory>();
        foreach (string warning in settings.Warnings)
        {
            LogConfigWarning(_logger, warning);
        }
    }

    /// <inheritdoc />
    public string Kind => "dns";

    /// <inheritdoc />
    public IEndpointSource? TryCreate(ServiceName service)
    {
        ArgumentNullException.ThrowIfNull(service);
        DnsServiceQuery? query = Plan(service);
        return query is null ? null : new DnsEndpointSource(query, _options, _time, _loggers.CreateLogger<DnsEndpointSource>());
    }

    internal DnsServiceQuery? Plan(ServiceName service)
    {
        DnsResolutionMode mode = _options.Mode;
        if (mode == DnsResolutionMode.Auto)
        {
            mode = service.PortName is not null ? DnsResolutionMode.Srv : DnsResolutionMode.Headless;
        }
        if (mode == DnsResolutionMode.Srv)
        {
            if (service.PortName is null)
            {
                LogNotServed(_logger, service.ToString(), "SRV mode needs a named port, e.g. '_http.svc.ns' or 'svc.ns:http'");
                return null;
            }
            return new DnsServiceQuery(service, mode, null, _resolver, _options);
        }
        int? port = service.Port ?? SchemePort(service) ?? _options.DefaultPort;
        if (port is null)
        {
            string why = service.PortName is not null
                ? $"the named port '{service.PortName}' needs SRV, but the mode is {mode}"
                : "the name has no port, no http/https scheme, and DnsSourceOptions.DefaultPort is not set";
            LogNotServed(_logger, service.ToString(), why);
            return null;
        }
        return new DnsServiceQuery(service, mode, port, _resolver, _options);
    }

    private static int? SchemePort(ServiceName service) => service.Schemes.Count == 0 ? null : service.Schemes[0] switch
    {
        "https" => 443,
        "http" => 80,
        _ => null,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resolver configuration: {Warning}")]
    private static partial void LogConfigWarning(ILogger logger, string warning);

    [LoggerMessage(Level = LogLevel.Information, Message = "The DNS source does not serve {Service}: {Reason}")]
    private static partial void LogNotServed(ILogger logger, string service, string reason);
}
