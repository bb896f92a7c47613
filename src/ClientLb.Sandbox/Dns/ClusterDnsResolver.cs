using System.Net;
using System.Net.Sockets;
using ClientLb.Dns.Protocol;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Dns;

/// <summary>
/// Answers queries for the cluster zone as the CoreDNS kubernetes plugin does:
/// <c>svc.ns.svc.zone</c> A/AAAA is the ClusterIP (headless: every ready pod IP), <c>host.svc.ns.svc.zone</c> a named
/// headless endpoint, <c>_port._proto.svc.ns.svc.zone</c> SRV, ExternalName a CNAME; unknown names NXDOMAIN with the SOA,
/// known names without records of the asked type NODATA. Names outside the zone are refused: there is no forwarding.
/// </summary>
internal sealed class ClusterDnsResolver(ObjectStore store, string clusterDomain, uint ttl)
{
    private readonly string _zone = DnsName.Normalize(clusterDomain).TrimEnd('.');

    public DnsMessage Answer(DnsMessage query)
    {
        if (query.OpCode != DnsOpCode.Query || query.Questions.Count != 1)
        {
            return DnsMessage.CreateResponse(query, query.OpCode != DnsOpCode.Query ? DnsResponseCode.NotImp : DnsResponseCode.FormErr);
        }
        DnsQuestion question = query.Questions[0];
        string name = DnsName.Normalize(question.Name).TrimEnd('.');
        if (!(name == _zone || name.EndsWith("." + _zone, StringComparison.Ordinal)))
        {
            return DnsMessage.CreateResponse(query, DnsResponseCode.Refused);
        }

        Lookup lookup = Find(name[..Math.Max(0, name.Length - _zone.Length - 1)]);
        if (lookup.Service is null)
        {
            return Negative(query, name == _zone || name == "svc." + _zone ? DnsResponseCode.NoError : DnsResponseCode.NXDomain);
        }
        var answers = new List<DnsRecord>();
        var additionals = new List<DnsRecord>();
        string owner = question.Name.EndsWith('.') ? question.Name : question.Name + ".";
        DnsService service = lookup.Service;

        if (service.ExternalName is string external && lookup.Kind == LookupKind.Service)
        {
            answers.Add(new DnsCnameRecord(owner, ttl, external.EndsWith('.') ? external : external + "."));
            return Positive(query, answers, additionals);
        }
        switch (question.Type)
        {
            case DnsRecordType.A or DnsRecordType.AAAA:
                AddressFamily family = question.Type == DnsRecordType.A ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                IEnumerable<IPAddress> addresses = lookup.Kind switch
                {
                    LookupKind.Service when !service.Headless => service.ClusterIps,
                    LookupKind.Service => service.Endpoints.Select(e => e.Address).Distinct(),
                    LookupKind.Endpoint => [lookup.Endpoint!.Address],
                    _ => [],
                };
                answers.AddRange(addresses.Where(a => a.AddressFamily == family).Select(a => Address(owner, a)));
                break;
            case DnsRecordType.SRV when lookup.Kind is LookupKind.Service or LookupKind.Srv:
                AddSrv(service, lookup, owner, answers, additionals);
                break;
        }
        return answers.Count > 0 ? Positive(query, answers, additionals) : Negative(query, DnsResponseCode.NoError);
    }

    private void AddSrv(DnsService service, Lookup lookup, string owner, List<DnsRecord> answers, List<DnsRecord> additionals)
    {
        string serviceName = $"{service.Name}.{service.Namespace}.svc.{_zone}.";
        bool Matches(DnsServicePort p) =>
            (lookup.PortName is null || string.Equals(p.Name, lookup.PortName, StringComparison.OrdinalIgnoreCase)) &&
            (lookup.Protocol is null || string.Equals(p.Protocol, lookup.Protocol, StringComparison.OrdinalIgnoreCase));
        if (!service.Headless)
        {
            foreach (DnsServicePort port in service.Ports.Where(p => p.Name is not null || lookup.PortName is null).Where(Matches))
            {
                answers.Add(new DnsSrvRecord(owner, ttl, 0, 100, (ushort)port.Port, serviceName));
            }
            if (answers.Count > 0)
            {
                additionals.AddRange(service.ClusterIps.Select(ip => Address(serviceName, ip)));
            }
            return;
        }
        var targets = new List<(string Target, DnsServiceEndpoint Endpoint, DnsServicePort Port)>();
        foreach (DnsServiceEndpoint endpoint in service.Endpoints)
        {
            foreach (DnsServicePort port in endpoint.Ports.Where(Matches))
            {
                targets.Add(($"{EndpointLabel(endpoint)}.{serviceName}", endpoint, port));
            }
        }
        // CoreDNS gives each record of the same priority an equal share of 100.
        ushort weight = (ushort)Math.Max(1, 100 / Math.Max(1, targets.Count));
        foreach ((string target, DnsServiceEndpoint endpoint, DnsServicePort port) in targets)
        {
            answers.Add(new DnsSrvRecord(owner, ttl, 0, weight, (ushort)port.Port, target));
            additionals.Add(Address(target, endpoint.Address));
        }
    }

    // A named endpoint answers by its hostname; others by their address with '-' for '.' or ':'.
    private static string EndpointLabel(DnsServiceEndpoint endpoint) =>
        endpoint.Hostname ?? endpoint.Address.ToString().Replace('.', '-').Replace(':', '-');

    private Lookup Find(string relative)
    {
        // relative is what precedes the zone: [_port._proto. | host.] svc.ns.svc
        string[] labels = relative.Split('.');
        if (labels.Length < 3 || labels[^1] != "svc")
        {
            return default;
        }
        DnsService? service = ClusterView.FindService(store, labels[^2], labels[^3]);
        if (service is null)
        {
            return default;
        }
        switch (labels.Length)
        {
            case 3:
                // A headless service with no ready endpoint does not exist for DNS (CoreDNS answers NXDOMAIN).
                return service.Headless && service.Endpoints.Count == 0 && service.ExternalName is null ? default : new Lookup(LookupKind.Service, service, null, null, null);
            case 4 when !labels[0].StartsWith('_'):
                DnsServiceEndpoint? endpoint = service.Endpoints.FirstOrDefault(e => string.Equals(EndpointLabel(e), labels[0], StringComparison.OrdinalIgnoreCase));
                return endpoint is null ? default : new Lookup(LookupKind.Endpoint, service, endpoint, null, null);
            case 5 when labels[0].StartsWith('_') && labels[1].StartsWith('_'):
                string portName = labels[0][1..];
                string protocol = labels[1][1..].ToUpperInvariant();
                bool any = service.Headless
                    ? service.Endpoints.SelectMany(e => e.Ports).Any(p => string.Equals(p.Name, portName, StringComparison.OrdinalIgnoreCase) && p.Protocol == protocol)
                    : service.Ports.Any(p => string.Equals(p.Name, portName, StringComparison.OrdinalIgnoreCase) && p.Protocol == protocol);
                return any ? new Lookup(LookupKind.Srv, service, null, portName, protocol) : default;
            default:
                return default;
        }
    }

    private DnsRecord Address(string owner, IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? new DnsAaaaRecord(owner, ttl, address) : new DnsARecord(owner, ttl, address);

    private static DnsMessage Positive(DnsMessage query, List<DnsRecord> answers, List<DnsRecord> additionals) =>
        DnsMessage.CreateResponse(query) with { IsAuthoritative = true, Answers = answers, Additionals = additionals };

    private DnsMessage Negative(DnsMessage query, DnsResponseCode code) =>
        DnsMessage.CreateResponse(query, code) with { IsAuthoritative = true, Authorities = [Soa()] };

    private DnsSoaRecord Soa() =>
        new($"{_zone}.", ttl, $"ns.dns.{_zone}.", $"hostmaster.{_zone}.", (uint)(store.ResourceVersion & 0xFFFFFFFF), 7200, 1800, 86400, ttl);

    private enum LookupKind { None, Service, Endpoint, Srv }

    private readonly record struct Lookup(LookupKind Kind, DnsService? Service, DnsServiceEndpoint? Endpoint, string? PortName, string? Protocol);
}
