using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;

namespace ClientLb.Cli.SandboxView;

/// <summary>
/// What the sandbox's cluster DNS answers for each Service: its A records (the ClusterIP, or the ready pods of a
/// headless Service) and the SRV record of each named port, asked of the DNS server itself with ClientLb's DNS client.
/// Asked again only when the cluster changed.
/// </summary>
internal sealed class ClusterDns(IPEndPoint server, string clusterDomain)
{
    private readonly DnsStubClient _client = new(new DnsResolverSettings { Origin = "sandbox cluster DNS", Servers = [server], Timeout = TimeSpan.FromSeconds(1), Attempts = 1 });
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (long Version, JsonArray Records)> _cache = new(StringComparer.Ordinal);

    /// <summary>The records of <paramref name="name"/>.<paramref name="ns"/> as the DNS answers them, one line each (or the error).</summary>
    public async Task<JsonArray> RecordsAsync(string name, string ns, IEnumerable<string> namedTcpPorts, long clusterVersion)
    {
        string fqdn = $"{name}.{ns}.svc.{clusterDomain}";
        lock (_gate)
        {
            if (_cache.TryGetValue(fqdn, out (long Version, JsonArray Records) cached) && cached.Version == clusterVersion)
            {
                return (JsonArray)cached.Records.DeepClone();
            }
        }
        var lines = new JsonArray();
        await AskAsync(new DnsQuestion(fqdn, DnsRecordType.A), lines);
        foreach (string port in namedTcpPorts)
        {
            await AskAsync(new DnsQuestion($"_{port}._tcp.{fqdn}", DnsRecordType.SRV), lines);
        }
        lock (_gate)
        {
            _cache[fqdn] = (clusterVersion, lines);
        }
        return (JsonArray)lines.DeepClone();
    }

    private async Task AskAsync(DnsQuestion question, JsonArray lines)
    {
        try
        {
            DnsQueryResult result = await _client.QueryAsync(question);
            if (result.Response.ResponseCode != DnsResponseCode.NoError)
            {
                lines.Add((JsonNode)$"{question.Name} {question.Type}: {result.Response.ResponseCode}");
                return;
            }
            foreach (DnsRecord record in result.Response.Answers)
            {
                lines.Add((JsonNode)Format(record));
            }
        }
        catch (DnsResolutionException ex)
        {
            lines.Add((JsonNode)$"{question.Name} {question.Type}: {ex.Message}");
        }
    }

    private static string Format(DnsRecord record) => record switch
    {
        DnsARecord a => $"{a.Name} {a.Ttl.ToString(CultureInfo.InvariantCulture)} IN A {a.Address}",
        DnsAaaaRecord aaaa => $"{aaaa.Name} {aaaa.Ttl.ToString(CultureInfo.InvariantCulture)} IN AAAA {aaaa.Address}",
        DnsSrvRecord srv => FormattableString.Invariant($"{srv.Name} {srv.Ttl} IN SRV {srv.Priority} {srv.Weight} {srv.Port} {srv.Target}"),
        DnsCnameRecord cname => $"{cname.Name} {cname.Ttl.ToString(CultureInfo.InvariantCulture)} IN CNAME {cname.Target}",
        _ => $"{record.Name} {record.Ttl.ToString(CultureInfo.InvariantCulture)} {record.GetType().Name}",
    };
}
