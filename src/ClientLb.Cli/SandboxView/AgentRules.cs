using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Sandbox;

namespace ClientLb.Cli.SandboxView;

/// <summary>
/// The agent's programmed rules beside the cluster (the view's "Agent rules" panel): read from the agent's <c>/rules</c>
/// (<c>clientlb sandbox --agent-metrics URL</c>, the agent's <c>--metrics-port</c> listener) on each state of the view, each
/// VIP port set against the endpoints the EndpointSlices make eligible (the core's <see cref="EndpointSelector"/>, the
/// rule the agent applies): a port whose backends differ is stale. Without the option, or when the agent does not answer,
/// the panel says the agent is not running and why.
/// </summary>
internal sealed class AgentRules(Uri? metrics) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMilliseconds(750) };

    /// <summary>The agent's rules and how they compare with <paramref name="services"/> and <paramref name="slices"/>.</summary>
    public async Task<JsonObject> StateAsync(IReadOnlyList<JsonObject> services, IReadOnlyList<JsonObject> slices, IReadOnlyList<SandboxPod> pods)
    {
        if (metrics is null)
        {
            return NotRunning(null, "no agent given: start the sandbox with --agent-metrics http://127.0.0.1:N (the --metrics-port of a running clientlb agent)");
        }
        var rulesUrl = new Uri(metrics, "rules");
        JsonObject rules;
        try
        {
            using HttpResponseMessage response = await _http.GetAsync(rulesUrl);
            if (!response.IsSuccessStatusCode)
            {
                return NotRunning(rulesUrl, $"agent not running at {rulesUrl}: it answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            rules = JsonNode.Parse(await response.Content.ReadAsStringAsync()) as JsonObject
                ?? throw new JsonException("the answer is not a JSON object");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return NotRunning(rulesUrl, $"agent not running at {rulesUrl}: {(ex is TaskCanceledException ? "no answer within 750 ms" : ex.Message)}");
        }
        // The pod behind an address: the EndpointSlices' targetRef, else a sandbox pod with that IP.
        var podByIp = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonObject slice in slices)
        {
            foreach (JsonNode? e in slice["endpoints"]?.AsArray() ?? [])
            {
                if (e?["addresses"]?.AsArray().FirstOrDefault()?.GetValue<string>() is string address && e["targetRef"]?["name"]?.GetValue<string>() is string pod)
                {
                    podByIp.TryAdd(address, (e["targetRef"]?["namespace"]?.GetValue<string>() ?? Meta(slice, "namespace")) + "/" + pod);
                }
            }
        }
        foreach (SandboxPod pod in pods.Where(p => p.IP is not null))
        {
            podByIp.TryAdd(pod.IP!, pod.Namespace + "/" + pod.Name);
        }
        var ports = new JsonArray();
        foreach (JsonNode? service in rules["services"]?.AsArray() ?? [])
        {
            string ns = service?["namespace"]?.GetValue<string>() ?? "", name = service?["name"]?.GetValue<string>() ?? "";
            JsonObject? clusterService = services.FirstOrDefault(s => Meta(s, "namespace") == ns && Meta(s, "name") == name);
            string[] dropped = [.. (service?["droppedEndpoints"]?.AsArray() ?? []).Select(d => d?.GetValue<string>() ?? "")];
            foreach (JsonNode? port in service?["ports"]?.AsArray() ?? [])
            {
                ports.Add((JsonNode)Compare(ns, name, port!.AsObject(), clusterService, slices, podByIp, dropped));
            }
        }
        return new JsonObject
        {
            ["configured"] = true,
            ["running"] = true,
            ["url"] = rulesUrl.ToString(),
            ["mode"] = rules["mode"]?.DeepClone(),
            ["dryRun"] = rules["dryRun"]?.DeepClone(),
            ["tables"] = rules["tables"]?.DeepClone(),
            ["lastSync"] = rules["lastSync"]?.DeepClone(),
            ["rejected"] = rules["rejected"]?.DeepClone(),
            ["dropped"] = new JsonArray([.. (rules["services"]?.AsArray() ?? []).SelectMany(s => (s?["droppedEndpoints"]?.AsArray() ?? [])
                .Select(d => (JsonNode?)$"{s!["namespace"]}/{s["name"]}: {d}"))]),
            ["ports"] = ports,
        };
    }

    public void Dispose() => _http.Dispose();

    private static JsonObject NotRunning(Uri? url, string message) => new()
    {
        ["configured"] = url is not null,
        ["running"] = false,
        ["url"] = url?.ToString(),
        ["message"] = message,
    };

    // One VIP port of the agent against the endpoints its Service's EndpointSlices make eligible for that port and family.
    // An eligible endpoint the agent names as left out (a loopback pod address, say) is shown as such, not as stale.
    private static JsonObject Compare(string ns, string name, JsonObject port, JsonObject? service, IReadOnlyList<JsonObject> slices, Dictionary<string, string> podByIp, string[] dropped)
    {
        string vip = port["vip"]?.GetValue<string>() ?? "";
        string protocol = (port["protocol"]?.GetValue<string>() ?? "tcp").ToUpperInvariant();
        int number = port["port"]?.GetValue<int>() ?? 0;
        var programmed = (port["endpoints"]?.AsArray() ?? []).Select(e => $"{e?["address"]?.GetValue<string>()}:{e?["port"]?.GetValue<int>()}").ToList();
        string? staleReason = null;
        List<string> expected = [];
        if (service is null)
        {
            staleReason = "the Service is gone from the cluster";
        }
        else
        {
            JsonNode? specPort = (service["spec"]?["ports"]?.AsArray() ?? []).FirstOrDefault(p => p?["port"]?.GetValue<int>() == number && (p["protocol"]?.GetValue<string>() ?? "TCP") == protocol);
            if (specPort is null)
            {
                staleReason = $"the Service has no {protocol} port {number} any more";
            }
            else
            {
                expected = Eligible(ns, name, specPort["name"]?.GetValue<string>() ?? "", protocol, vip.Contains(':', StringComparison.Ordinal) ? "IPv6" : "IPv4", slices);
            }
        }
        var missing = expected.Except(programmed, StringComparer.Ordinal).ToList();
        var leftOut = missing.Where(e => dropped.Any(d => Names(d, e[..e.LastIndexOf(':')]))).ToList();
        missing = [.. missing.Except(leftOut, StringComparer.Ordinal)];
        var extra = programmed.Except(expected, StringComparer.Ordinal).ToList();
        if (staleReason is null && (missing.Count > 0 || extra.Count > 0))
        {
            staleReason = "the EndpointSlices differ: " + string.Join("; ", new[]
            {
                missing.Count > 0 ? "not programmed " + string.Join(", ", missing) : null,
                extra.Count > 0 ? "programmed but not eligible " + string.Join(", ", extra) : null,
            }.OfType<string>());
        }
        return new JsonObject
        {
            ["service"] = ns + "/" + name,
            ["vip"] = vip,
            ["protocol"] = port["protocol"]?.DeepClone(),
            ["port"] = number,
            ["name"] = port["name"]?.DeepClone(),
            ["endpoints"] = new JsonArray([.. programmed.Select(e => (JsonNode?)new JsonObject { ["endpoint"] = e, ["pod"] = podByIp.GetValueOrDefault(e[..e.LastIndexOf(':')]) })]),
            ["emptyReason"] = port["emptyReason"]?.DeepClone(),
            ["leftOut"] = new JsonArray([.. leftOut.Select(e => (JsonNode?)new JsonObject { ["endpoint"] = e, ["pod"] = podByIp.GetValueOrDefault(e[..e.LastIndexOf(':')]) })]),
            ["stale"] = staleReason is not null,
            ["staleReason"] = staleReason,
        };
    }

    // address:port of the endpoints the EndpointSlices of ns/name make eligible for the named port of one family.
    private static List<string> Eligible(string ns, string name, string portName, string protocol, string addressType, IReadOnlyList<JsonObject> slices)
    {
        ImmutableArray<Endpoint>.Builder endpoints = ImmutableArray.CreateBuilder<Endpoint>();
        foreach (JsonObject slice in slices.Where(s => Meta(s, "namespace") == ns && s["metadata"]?["labels"]?["kubernetes.io/service-name"]?.GetValue<string>() == name
            && (s["addressType"]?.GetValue<string>() ?? "") == addressType))
        {
            JsonNode? slicePort = (slice["ports"]?.AsArray() ?? []).FirstOrDefault(p => (p?["name"]?.GetValue<string>() ?? "") == portName && (p?["protocol"]?.GetValue<string>() ?? "TCP") == protocol);
            if (slicePort?["port"]?.GetValue<int>() is not int target)
            {
                continue;
            }
            foreach (JsonNode? e in slice["endpoints"]?.AsArray() ?? [])
            {
                string? address = e?["addresses"]?.AsArray().FirstOrDefault()?.GetValue<string>();
                if (address is not null && IPAddress.TryParse(address, out IPAddress? ip))
                {
                    JsonNode? conditions = e!["conditions"];
                    endpoints.Add(new Endpoint(ip, target, EndpointConditions.FromApi(
                        conditions?["ready"]?.GetValue<bool>(), conditions?["serving"]?.GetValue<bool>(), conditions?["terminating"]?.GetValue<bool>())));
                }
            }
        }
        return [.. EndpointSelector.Select(endpoints.ToImmutable()).Eligible.Select(e => $"{e.Address}:{e.Port}").Distinct(StringComparer.Ordinal)];
    }

    // Whether a drop reason names the address as a whole (10.0.0.1 is not named by a reason about 10.0.0.12).
    private static bool Names(string reason, string address) =>
        Regex.IsMatch(reason, "(?<![0-9A-Za-z.:])" + Regex.Escape(address) + "(?![0-9A-Za-z.])", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static string Meta(JsonObject obj, string field) => obj["metadata"]?[field]?.GetValue<string>() ?? "";
}
