using System.Net;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;
using ClientLb.Dns.Resolution;
using ClientLb.Endpoints;
using ClientLb.ServiceDiscovery;

namespace ClientLb.Dns.Source;

/// <summary>One refresh of one service: the SRV or address lookups of its mode, turned into endpoints.</summary>
internal sealed class DnsServiceQuery
{
    // SRV targets are resolved in parallel, but not all at once against one server.
    private const int MaxParallelTargetLookups = 8;

    private readonly DnsResolver _resolver;
    private readonly DnsSourceOptions _options;

    public DnsServiceQuery(ServiceName service, DnsResolutionMode mode, int? port, DnsResolver resolver, DnsSourceOptions options)
    {
        Service = service;
        Mode = mode;
        Port = port;
        _resolver = resolver;
        _options = options;
        Name = mode == DnsResolutionMode.Srv
            ? $"_{service.PortName}._{options.SrvProtocol}." + (options.UseSearchList ? service.Key : service.Fqdn + ".")
            : options.UseSearchList ? service.Key : service.Fqdn + ".";
    }

    public ServiceName Service { get; }

    public DnsResolutionMode Mode { get; }

    /// <summary>The port of address modes; null in SRV mode (each record has its own).</summary>
    public int? Port { get; }

    /// <summary>The name asked for: rooted FQDN, or relative when the search list applies.</summary>
    public string Name { get; }

    public Task<DnsServiceAnswer> ResolveAsync(CancellationToken cancellationToken) =>
        Mode == DnsResolutionMode.Srv ? ResolveSrvAsync(cancellationToken) : ResolveAddressesAsync(Name, Port!.Value, cancellationToken);

    private async Task<DnsServiceAnswer> ResolveAddressesAsync(string name, int port, CancellationToken cancellationToken)
    {
        (IReadOnlyList<IPAddress> addresses, uint? ttl, string? notFound) = await LookupAddressesAsync(name, [], cancellationToken).ConfigureAwait(false);
        var endpoints = addresses.Select(a => new Endpoint(a, port)).ToList();
        return new DnsServiceAnswer(name, endpoints, ttl, endpoints.Count > 0 ? null : notFound);
    }

    private async Task<DnsServiceAnswer> ResolveSrvAsync(CancellationToken cancellationToken)
    {
        DnsLookup srv = await _resolver.LookupAsync(Name, DnsRecordType.SRV, cancellationToken).ConfigureAwait(false);
        if (srv.Status != DnsLookupStatus.Found)
        {
            return new DnsServiceAnswer(Name, [], srv.Ttl, Describe(srv));
        }
        // RFC 2782: a single record with target "." means the service is decidedly not available.
        List<DnsSrvRecord> records = srv.Records.OfType<DnsSrvRecord>().Where(r => r.Target != DnsName.Root).ToList();
        if (records.Count == 0)
        {
            return new DnsServiceAnswer(Name, [], srv.Ttl, "SRV target '.' (service not available)");
        }
        var unresolved = new List<string>();
        // The lowest priority group is used; a higher one only when no target of the lower group resolves.
        foreach (IGrouping<ushort, DnsSrvRecord> group in records.GroupBy(r => r.Priority).OrderBy(g => g.Key))
        {
            uint ttl = srv.Ttl ?? 0;
            var endpoints = new List<Endpoint>();
            DnsSrvRecord[] targets = group.ToArray();
            var lookups = new (IReadOnlyList<IPAddress> Addresses, uint? Ttl, string? NotFound)[targets.Length];
            using var gate = new SemaphoreSlim(MaxParallelTargetLookups);
            await Task.WhenAll(targets.Select(async (record, i) =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    lookups[i] = await LookupAddressesAsync(record.Target + ".", srv.Additionals, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            })).ConfigureAwait(false);
            for (int i = 0; i < targets.Length; i++)
            {
                DnsSrvRecord record = targets[i];
                if (lookups[i].Addresses.Count == 0)
                {
                    unresolved.Add($"{record.Target} ({lookups[i].NotFound})");
                    continue;
                }
                ttl = Math.Min(ttl, lookups[i].Ttl ?? ttl);
                string hostname = record.Target.Split('.')[0];
                // Endpoint weights must be >= 1; SRV weight 0 ("rarely") becomes the smallest share.
                endpoints.AddRange(lookups[i].Addresses.Select(a => new Endpoint(a, record.Port, hostname: hostname, weight: Math.Max(1, (int)record.Weight))));
            }
            if (endpoints.Count > 0)
            {
                return new DnsServiceAnswer(Name, endpoints, ttl, null);
            }
        }
        return new DnsServiceAnswer(Name, [], srv.Ttl, "no SRV target resolves: " + string.Join(", ", unresolved));
    }

    /// <summary>A/AAAA of <paramref name="name"/>, taken from <paramref name="additionals"/> when the server already sent them.</summary>
    private async Task<(IReadOnlyList<IPAddress> Addresses, uint? Ttl, string? NotFound)> LookupAddressesAsync(string name, IReadOnlyList<DnsRecord> additionals, CancellationToken cancellationToken)
    {
        var types = new List<DnsRecordType>(2);
        if (_options.AddressFamilies.HasFlag(DnsAddressFamilies.IPv4))
        {
            types.Add(DnsRecordType.A);
        }
        if (_options.AddressFamilies.HasFlag(DnsAddressFamilies.IPv6))
        {
            types.Add(DnsRecordType.AAAA);
        }
        List<DnsRecord> given = additionals.Where(r => types.Contains(r.Type) && DnsName.AreEqual(r.Name, name)).ToList();
        if (given.Count > 0)
        {
            return (given.Select(AddressOf).ToList(), given.Min(r => r.Ttl), null);
        }
        DnsLookup[] lookups = await Task.WhenAll(types.Select(t => _resolver.LookupAsync(name, t, cancellationToken))).ConfigureAwait(false);
        var addresses = new List<IPAddress>();
        uint? ttl = null;
        foreach (DnsLookup lookup in lookups)
        {
            addresses.AddRange(lookup.Records.Select(AddressOf));
            if (lookup.Ttl is uint t)
            {
                ttl = Math.Min(ttl ?? uint.MaxValue, t);
            }
        }
        string notFound = lookups.All(l => l.Status == DnsLookupStatus.NameNotFound)
            ? $"NXDOMAIN (tried {string.Join(", ", lookups[0].TriedNames)})"
            : $"no {string.Join("/", types)} records";
        return (addresses, ttl, addresses.Count > 0 ? null : notFound);
    }

    private static string Describe(DnsLookup lookup) => lookup.Status == DnsLookupStatus.NameNotFound
        ? $"NXDOMAIN (tried {string.Join(", ", lookup.TriedNames)})"
        : $"no {lookup.Type} records";

    private static IPAddress AddressOf(DnsRecord record) => record switch
    {
        DnsARecord a => a.Address,
        DnsAaaaRecord aaaa => aaaa.Address,
        _ => throw new InvalidOperationException($"Record {record.Name} {record.Type} is not an address."),
    };
}
