using System.Net;
using System.Text;
using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;
using ClientLb.Dns.Resolution;
using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Dns.Source;

/// <summary>One refresh of one service: the SRV or address lookups of its mode, turned into endpoints.</summary>
internal sealed class DnsServiceQuery
{
    // SRV targets are resolved in parallel, but not all at once against one server.
    private const int MaxParallelTargetLookups = 8;

    /// <summary>The longest failure reason built from dropped records; the rest is counted, not listed.</summary>
    internal const int MaxReasonLength = 1024;

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
        var dropped = new List<DroppedRecord>();
        AddressLookup lookup = await LookupAddressesAsync(name, [], dropped, cancellationToken).ConfigureAwait(false);
        var endpoints = lookup.Addresses.Select(a => new Endpoint(a, port)).ToList();
        return new DnsServiceAnswer(name, endpoints, lookup.Ttl, endpoints.Count > 0 ? null : Cap(lookup.NotFound!, dropped)) { Dropped = dropped };
    }

    private async Task<DnsServiceAnswer> ResolveSrvAsync(CancellationToken cancellationToken)
    {
        DnsLookup srv = await _resolver.LookupAsync(Name, DnsRecordType.SRV, cancellationToken).ConfigureAwait(false);
        if (srv.Status != DnsLookupStatus.Found)
        {
            return new DnsServiceAnswer(Name, [], srv.Ttl, Describe(srv));
        }
        var dropped = new List<DroppedRecord>();
        // RFC 2782: a single record with target "." means the service is decidedly not available.
        var records = new List<DnsSrvRecord>();
        foreach (DnsSrvRecord record in srv.Records.OfType<DnsSrvRecord>().Where(r => r.Target != DnsName.Root))
        {
            if (record.Port == 0)
            {
                dropped.Add(new DroppedRecord(Show(record), "port 0 is not a port a client can connect to"));
            }
            else if (records.Count >= _options.MaxSrvTargets)
            {
                dropped.Add(new DroppedRecord(Show(record), $"more than DnsSourceOptions.MaxSrvTargets ({_options.MaxSrvTargets}) SRV records; the rest are not resolved"));
            }
            else
            {
                records.Add(record);
            }
        }
        if (records.Count == 0)
        {
            return new DnsServiceAnswer(Name, [], srv.Ttl, dropped.Count > 0 ? Cap("every SRV record was refused", dropped) : "SRV target '.' (service not available)") { Dropped = dropped };
        }
        // The lowest priority group is used; a higher one only when no target of the lower group resolves.
        foreach (IGrouping<ushort, DnsSrvRecord> group in records.GroupBy(r => r.Priority).OrderBy(g => g.Key))
        {
            uint ttl = srv.Ttl ?? 0;
            var endpoints = new List<Endpoint>();
            DnsSrvRecord[] targets = group.ToArray();
            var lookups = new AddressLookup[targets.Length];
            var targetDropped = new List<DroppedRecord>[targets.Length];
            using var gate = new SemaphoreSlim(MaxParallelTargetLookups);
            await Task.WhenAll(targets.Select(async (record, i) =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    targetDropped[i] = [];
                    lookups[i] = await LookupAddressesAsync(record.Target + ".", srv.Additionals, targetDropped[i], cancellationToken).ConfigureAwait(false);
                }
                catch (DnsResolutionException ex)
                {
                    // One target's failure (SERVFAIL, timeout, a CNAME loop) drops that target; the others are served.
                    lookups[i] = new AddressLookup([], null, ex.Message);
                }
                finally
                {
                    gate.Release();
                }
            })).ConfigureAwait(false);
            for (int i = 0; i < targets.Length; i++)
            {
                DnsSrvRecord record = targets[i];
                dropped.AddRange(targetDropped[i]);
                if (lookups[i].Addresses.Count == 0)
                {
                    dropped.Add(new DroppedRecord(Show(record), "its target does not resolve: " + lookups[i].NotFound));
                    continue;
                }
                ttl = Math.Min(ttl, lookups[i].Ttl ?? ttl);
                string hostname = record.Target.Split('.')[0];
                // Endpoint weights must be >= 1; SRV weight 0 ("rarely") becomes the smallest share.
                endpoints.AddRange(lookups[i].Addresses.Select(a => new Endpoint(a, record.Port, hostname: hostname, weight: Math.Max(1, (int)record.Weight))));
            }
            if (endpoints.Count > 0)
            {
                return new DnsServiceAnswer(Name, endpoints, ttl, null) { Dropped = dropped };
            }
        }
        return new DnsServiceAnswer(Name, [], srv.Ttl, Cap("no SRV target resolves", dropped)) { Dropped = dropped };
    }

    /// <summary>The A/AAAA addresses of a name that may be endpoints; why there are none otherwise.</summary>
    private readonly record struct AddressLookup(IReadOnlyList<IPAddress> Addresses, uint? Ttl, string? NotFound);

    /// <summary>
    /// A/AAAA of <paramref name="name"/>, taken from <paramref name="additionals"/> when the server already sent them.
    /// An address that may not be an endpoint (<see cref="EndpointAddress.CheckUsable"/>) is added to <paramref name="dropped"/>.
    /// </summary>
    private async Task<AddressLookup> LookupAddressesAsync(string name, IReadOnlyList<DnsRecord> additionals, List<DroppedRecord> dropped, CancellationToken cancellationToken)
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
            List<IPAddress> usable = Usable(given, dropped);
            return new AddressLookup(usable, given.Min(r => r.Ttl), usable.Count > 0 ? null : "every address was refused");
        }
        DnsLookup[] lookups = await Task.WhenAll(types.Select(t => _resolver.LookupAsync(name, t, cancellationToken))).ConfigureAwait(false);
        var addresses = new List<IPAddress>();
        int refused = dropped.Count;
        uint? ttl = null;
        foreach (DnsLookup lookup in lookups)
        {
            addresses.AddRange(Usable(lookup.Records, dropped));
            if (lookup.Ttl is uint t)
            {
                ttl = Math.Min(ttl ?? uint.MaxValue, t);
            }
        }
        string notFound = dropped.Count > refused ? "every address was refused"
            : lookups.All(l => l.Status == DnsLookupStatus.NameNotFound) ? $"NXDOMAIN (tried {string.Join(", ", lookups[0].TriedNames)})"
            : $"no {string.Join("/", types)} records";
        return new AddressLookup(addresses, ttl, addresses.Count > 0 ? null : notFound);
    }

    private List<IPAddress> Usable(IEnumerable<DnsRecord> records, List<DroppedRecord> dropped)
    {
        var usable = new List<IPAddress>();
        foreach (DnsRecord record in records)
        {
            IPAddress address = AddressOf(record);
            if (EndpointAddress.CheckUsable(address, _options.AllowLoopbackEndpoints) is string reason)
            {
                dropped.Add(new DroppedRecord($"{record.Name} {record.Type} {address}", reason));
            }
            else
            {
                usable.Add(address);
            }
        }
        return usable;
    }

    /// <summary>A reason with the dropped records it stems from, capped so a hostile answer cannot make a huge message.</summary>
    internal static string Cap(string reason, IReadOnlyList<DroppedRecord> dropped)
    {
        if (dropped.Count == 0)
        {
            return reason;
        }
        StringBuilder text = new System.Text.StringBuilder(reason).Append(": ");
        int shown = 0;
        foreach (DroppedRecord record in dropped)
        {
            string item = $"{record.Record} ({record.Reason})";
            if (shown > 0 && text.Length + item.Length > MaxReasonLength)
            {
                break;
            }
            text.Append(shown > 0 ? "; " : "").Append(item.Length > MaxReasonLength ? item[..MaxReasonLength] + "..." : item);
            shown++;
        }
        if (shown < dropped.Count)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"; and {dropped.Count - shown} more");
        }
        return text.ToString();
    }

    private static string Show(DnsSrvRecord record) => $"SRV {record.Priority} {record.Weight} {record.Port} {record.Target}";

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
