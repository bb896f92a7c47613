using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using ClientLb.Agent.Model;
using ClientLb.Eligibility;
using ClientLb.Endpoints;

namespace ClientLb.Agent.Validation;

/// <summary>
/// Checks every value of a <see cref="ServiceState"/> and turns it into a <see cref="ValidatedService"/>; eligibility of
/// endpoints and where traffic stays is decided by the core's <see cref="EligibleSetBuilder"/> (the SDK's own rule), once per
/// address family as kube-proxy does.
/// </summary>
internal static class ServiceValidator
{
    /// <summary>Most ports one service may have.</summary>
    public const int MaxPorts = 256;

    /// <summary>Most endpoints one service port may have per family (each needs at least one of the 65,536 slots).</summary>
    public const int MaxEndpointsPerPort = 8192;

    /// <summary>Longest ClientIP affinity timeout Kubernetes accepts (one day).</summary>
    public const int MaxAffinityTimeoutSeconds = 86400;

    public static bool TryValidate(ServiceState service, [NotNullWhen(true)] out ValidatedService? validated, [NotNullWhen(false)] out string? error) =>
        TryValidate(service, ValidationPolicy.Node, out validated, out error);

    /// <summary>
    /// Validates under <paramref name="policy"/>: which VIPs the mode accepts, and the node and zone whose endpoints are
    /// preferred (the SDK's <see cref="EligibleSetBuilder"/>).
    /// </summary>
    public static bool TryValidate(ServiceState service, ValidationPolicy policy, [NotNullWhen(true)] out ValidatedService? validated, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(policy);
        validated = null;
        error = NameRules.CheckLabel(service.Namespace, "namespace") ?? NameRules.CheckLabel(service.Name, "service name");
        if (error is not null)
        {
            return false;
        }
        if (service.ClientIPAffinityTimeoutSeconds is int timeout && timeout is < 1 or > MaxAffinityTimeoutSeconds)
        {
            error = $"the ClientIP affinity timeout {timeout} s is outside 1-{MaxAffinityTimeoutSeconds}";
            return false;
        }
        if (!TryValidateVips(service.ClusterIPs, policy.AllowLoopbackVips, out IPAddress? v4, out IPAddress? v6, out error))
        {
            return false;
        }
        if (service.Ports.Length == 0)
        {
            error = "the service has no ports";
            return false;
        }
        if (service.Ports.Length > MaxPorts)
        {
            error = $"the service has {service.Ports.Length} ports (at most {MaxPorts})";
            return false;
        }

        ImmutableArray<ValidatedPort>.Builder ports = ImmutableArray.CreateBuilder<ValidatedPort>();
        var dropped = new List<string>();
        var seen = new HashSet<(ServiceProtocol, int)>();
        foreach (ServicePortState port in service.Ports)
        {
            if (port is null)
            {
                error = "a port is null";
                return false;
            }
            string portLabel = $"port {(port.Name ?? port.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))}";
            if (port.Name is not null && NameRules.CheckPortName(port.Name) is string nameError)
            {
                error = nameError;
                return false;
            }
            if (!Enum.IsDefined(port.Protocol))
            {
                error = $"{portLabel}: the protocol value {(int)port.Protocol} is not one of TCP, UDP, SCTP";
                return false;
            }
            if (port.Port is < 1 or > 65535)
            {
                error = $"{portLabel}: the port {port.Port} is outside 1-65535";
                return false;
            }
            if (!seen.Add((port.Protocol, port.Port)))
            {
                error = $"{portLabel}: {ServiceProtocols.Keyword(port.Protocol).ToUpperInvariant()} port {port.Port} is listed twice";
                return false;
            }
            if (port.Endpoints.Length > 2 * MaxEndpointsPerPort)
            {
                error = $"{portLabel}: {port.Endpoints.Length} endpoints (at most {MaxEndpointsPerPort} per family)";
                return false;
            }
            // One bad endpoint is dropped and named; the rest of the port is programmed.
            ImmutableArray<Endpoint> usable = port.Endpoints;
            foreach (Endpoint endpoint in port.Endpoints)
            {
                if (CheckEndpoint(endpoint) is string endpointError)
                {
                    dropped.Add($"{portLabel}: {endpointError}; endpoint left out");
                    usable = usable.Remove(endpoint);
                }
            }
            if (usable.IsEmpty && !port.Endpoints.IsEmpty)
            {
                error = $"{portLabel}: every one of its {port.Endpoints.Length} endpoint(s) is invalid ({string.Join("; ", dropped.Take(3))}{(dropped.Count > 3 ? $"; and {dropped.Count - 3} more" : "")})";
                return false;
            }
            foreach (IPAddress? vip in new[] { v4, v6 })
            {
                if (vip is null)
                {
                    continue;
                }
                ValidatedPort validatedPort = ForFamily(vip, usable, port, policy);
                if (validatedPort.Targets.Length > MaxEndpointsPerPort)
                {
                    error = $"{portLabel}: {validatedPort.Targets.Length} eligible endpoints for {vip} (at most {MaxEndpointsPerPort})";
                    return false;
                }
                ports.Add(validatedPort);
            }
        }
        validated = new ValidatedService(service.Key, ports.ToImmutable(), service.ClientIPAffinityTimeoutSeconds) { Dropped = [.. dropped] };
        return true;
    }

    private static bool TryValidateVips(ImmutableArray<string> clusterIPs, bool allowLoopback4, out IPAddress? v4, out IPAddress? v6, [NotNullWhen(false)] out string? error)
    {
        v4 = null;
        v6 = null;
        if (clusterIPs.IsDefaultOrEmpty)
        {
            error = "the service has no cluster IP";
            return false;
        }
        if (clusterIPs.Length > 2)
        {
            error = $"the service has {clusterIPs.Length} cluster IPs (at most one per family)";
            return false;
        }
        foreach (string text in clusterIPs)
        {
            if (text is null)
            {
                error = "a cluster IP is null";
                return false;
            }
            if (text == "None")
            {
                error = "the service is headless (clusterIP: None): there is no VIP to program";
                return false;
            }
            if (!AddressRules.TryParseVip(text, allowLoopback4, out IPAddress? vip, out error))
            {
                return false;
            }
            if (vip.AddressFamily == AddressFamily.InterNetwork ? v4 is not null : v6 is not null)
            {
                error = $"the service has two cluster IPs of the family of {vip}";
                return false;
            }
            if (vip.AddressFamily == AddressFamily.InterNetwork)
            {
                v4 = vip;
            }
            else
            {
                v6 = vip;
            }
        }
        error = null;
        return true;
    }

    private static string? CheckEndpoint(Endpoint endpoint)
    {
        if (endpoint is null)
        {
            return "an endpoint is null";
        }
        if (endpoint.Address is null)
        {
            return $"the endpoint '{NameRules.Display(endpoint.Host)}' is a DNS name, not an IP address";
        }
        if (endpoint.Port is < 1 or > 65535)
        {
            return $"the endpoint {endpoint.Host} has target port {endpoint.Port}, outside 1-65535";
        }
        return AddressRules.CheckTarget(endpoint.Address);
    }

    private static ValidatedPort ForFamily(IPAddress vip, ImmutableArray<Endpoint> endpoints, ServicePortState port, ValidationPolicy policy)
    {
        ImmutableArray<Endpoint> sameFamily = [.. endpoints.Where(e => e.Address!.AddressFamily == vip.AddressFamily)];
        // Every eligible endpoint counts as healthy: the kernel has no passive health, so the hints when they apply,
        // else the narrowest non-empty level (node, then zone, then all) win, as the SDK decides with every endpoint healthy.
        EligibleSet eligible = new EligibleSetBuilder(nodeName: policy.NodeName, zone: policy.Zone, minHealthyShare: ValidationPolicy.MinHealthyShare).Build(sameFamily);
        var targets = new SortedDictionary<(UInt128 Address, int Port), Target>();
        foreach (Endpoint endpoint in eligible.Local)
        {
            targets.TryAdd((SortKey(endpoint.Address!), endpoint.Port), new Target(endpoint.Address!, endpoint.Port, endpoint.Weight));
        }
        string? empty = targets.Count > 0 ? null : eligible.Selection.EmptyReason ?? "the service has no endpoints";
        return new ValidatedPort(vip.AddressFamily, vip, port.Protocol, port.Port, [.. targets.Values], empty);
    }

    private static UInt128 SortKey(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        UInt128 key = 0;
        foreach (byte b in bytes[..written])
        {
            key = (key << 8) | b;
        }
        return key;
    }
}
