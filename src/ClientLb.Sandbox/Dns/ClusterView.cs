using System.Net;
using System.Text.Json;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Dns;

/// <summary>What cluster DNS needs of one Service: its addresses, ports, and (headless) endpoints.</summary>
internal sealed record DnsService(string Name, string Namespace, bool Headless, IReadOnlyList<IPAddress> ClusterIps, string? ExternalName,
    IReadOnlyList<DnsServicePort> Ports, IReadOnlyList<DnsServiceEndpoint> Endpoints);

/// <summary>A Service port (for ClusterIP SRV) or an EndpointSlice port (for headless SRV).</summary>
internal sealed record DnsServicePort(string? Name, string Protocol, int Port);

/// <summary>One ready endpoint address of a headless Service, with the slice ports that reach it.</summary>
internal sealed record DnsServiceEndpoint(IPAddress Address, string? Hostname, IReadOnlyList<DnsServicePort> Ports);

/// <summary>Reads Services and EndpointSlices from the store, as the CoreDNS kubernetes plugin reads them from the API.</summary>
internal static class ClusterView
{
    public static DnsService? FindService(ObjectStore store, string @namespace, string name)
    {
        StoredObject? service = store.Get(ResourceTypes.Services, @namespace, name);
        if (service is null)
        {
            return null;
        }
        JsonElement spec = service.Root.Get("spec") ?? default;
        string type = spec.ValueKind == JsonValueKind.Object && spec.Get("type")?.GetString() is string t ? t : "ClusterIP";
        string? clusterIp = spec.ValueKind == JsonValueKind.Object ? spec.Get("clusterIP")?.GetString() : null;
        bool headless = clusterIp == "None";
        var clusterIps = new List<IPAddress>();
        if (!headless && spec.ValueKind == JsonValueKind.Object)
        {
            if (spec.Get("clusterIPs") is { ValueKind: JsonValueKind.Array } ips)
            {
                clusterIps.AddRange(ips.EnumerateArray().Select(i => i.GetString()).Where(s => s is not null && IPAddress.TryParse(s, out _)).Select(s => IPAddress.Parse(s!)));
            }
            else if (clusterIp is not null && IPAddress.TryParse(clusterIp, out IPAddress? ip))
            {
                clusterIps.Add(ip);
            }
        }

        var ports = new List<DnsServicePort>();
        if (spec.ValueKind == JsonValueKind.Object && spec.Get("ports") is { ValueKind: JsonValueKind.Array } portList)
        {
            ports.AddRange(portList.EnumerateArray().Select(ReadPort).OfType<DnsServicePort>());
        }

        var endpoints = new List<DnsServiceEndpoint>();
        if (headless)
        {
            foreach (StoredObject slice in store.Snapshot(ResourceTypes.EndpointSlices, @namespace,
                s => s.Labels.TryGetValue("kubernetes.io/service-name", out string? owner) && owner == name))
            {
                endpoints.AddRange(ReadSlice(slice.Root));
            }
        }
        string? externalName = type == "ExternalName" && spec.Get("externalName")?.GetString() is { Length: > 0 } ext ? ext : null;
        return new DnsService(name, @namespace, headless, clusterIps, externalName, ports, endpoints);
    }

    private static IEnumerable<DnsServiceEndpoint> ReadSlice(JsonElement slice)
    {
        List<DnsServicePort> ports = slice.Get("ports") is { ValueKind: JsonValueKind.Array } p
            ? p.EnumerateArray().Select(ReadPort).OfType<DnsServicePort>().ToList()
            : [];
        if (slice.Get("endpoints") is not { ValueKind: JsonValueKind.Array } list)
        {
            yield break;
        }
        foreach (JsonElement endpoint in list.EnumerateArray())
        {
            // CoreDNS publishes ready endpoints only (a nil "ready" counts as ready, per the API).
            if (endpoint.Get("conditions", "ready") is { ValueKind: JsonValueKind.False })
            {
                continue;
            }
            string? hostname = endpoint.Get("hostname")?.GetString();
            if (endpoint.Get("addresses") is { ValueKind: JsonValueKind.Array } addresses)
            {
                foreach (JsonElement address in addresses.EnumerateArray())
                {
                    if (IPAddress.TryParse(address.GetString(), out IPAddress? ip))
                    {
                        yield return new DnsServiceEndpoint(ip, hostname, ports);
                    }
                }
            }
        }
    }

    private static DnsServicePort? ReadPort(JsonElement port)
    {
        if (port.Get("port") is not { ValueKind: JsonValueKind.Number } number || !number.TryGetInt32(out int value))
        {
            return null;
        }
        return new DnsServicePort(port.Get("name")?.GetString() is { Length: > 0 } n ? n : null, port.Get("protocol")?.GetString() ?? "TCP", value);
    }
}
