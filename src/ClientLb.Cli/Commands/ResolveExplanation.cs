using System.Globalization;
using System.Net;
using ClientLb.Endpoints;
using Endpoint = ClientLb.Endpoints.Endpoint;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Source;
using ClientLb.LoadBalancing;
using ClientLb.Names;

namespace ClientLb.Cli.Commands;

/// <summary>
/// <c>clientlb resolve --explain NAME</c>: why a name resolves to what it does. What ClientLb's source concluded (the
/// source used, its snapshot, which endpoints are eligible), and for the Kubernetes source the API objects behind it:
/// the Service, every EndpointSlice, and each endpoint dropped with its reason (invalid address, the slice does not serve
/// the port, not ready, terminating, ejected, outside the topology). The port choice and the slice mapping are the
/// source's own code (<see cref="PortResolver"/>, <see cref="EndpointMapper"/>), so the explanation cannot disagree with it.
/// Ends with one <c>why:</c> line.
/// </summary>
internal sealed class ResolveExplanation(TextWriter output)
{
    /// <summary>The Kubernetes options deciding whether loopback endpoints count (as the source decides).</summary>
    public KubernetesSourceOptions Loopback { get; init; } = new();

    private readonly List<string> _why = [];

    public async Task<int> WriteAsync(ServiceName service, ServiceBalancer? balancer, Exception? resolveError,
        KubernetesClientConfiguration? kubernetes, CancellationToken cancellationToken)
    {
        await Line($"service: {service.Id} ({service.Fqdn}{PortText(service)})");
        if (balancer is not null)
        {
            await Line($"source: {balancer.Source.Kind} ({balancer.Source.Description})");
        }
        if (resolveError is not null)
        {
            await Line("resolution: " + resolveError.Message);
        }
        if (kubernetes is not null && (balancer is null || balancer.Source.Kind == "kubernetes"))
        {
            await ExplainKubernetesAsync(service, balancer, kubernetes, cancellationToken);
        }
        else if (balancer?.Source.Current is EndpointSnapshot snapshot)
        {
            foreach (Endpoint endpoint in snapshot.Endpoints)
            {
                await Line($"  {endpoint.Authority}: {State(balancer, endpoint)}");
            }
        }
        int eligible = balancer?.Picker.Endpoints.Count ?? 0;
        if (eligible > 0 && _why.Count == 0)
        {
            _why.Add($"{eligible} endpoint(s) take traffic");
        }
        else if (_why.Count == 0)
        {
            _why.Add(resolveError?.Message ?? (balancer?.Selection?.EmptyReason ?? "nothing eligible"));
        }
        await Line("why: " + string.Join("; ", _why));
        return eligible > 0 ? 0 : 2;
    }

    private async Task ExplainKubernetesAsync(ServiceName service, ServiceBalancer? balancer, KubernetesClientConfiguration configuration, CancellationToken cancellationToken)
    {
        using KubernetesApiClient api = KubernetesApiClient.FromConfiguration(configuration, TimeSpan.FromSeconds(10));
        await Line($"api: {api.Description}");
        Service? svc;
        List<EndpointSlice> slices;
        try
        {
            svc = (await api.ListServicesAsync(service.Namespace, new ListOptions(FieldSelector: "metadata.name=" + service.Name), cancellationToken)).Items.FirstOrDefault();
            slices = (await api.ListEndpointSlicesAsync(service.Namespace, new ListOptions("kubernetes.io/service-name=" + service.Name), cancellationToken)).Items;
        }
        catch (KubernetesApiException e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            await Line($"api: {e.Message}");
            _why.Add(e.StatusCode == HttpStatusCode.Forbidden
                ? $"RBAC: 403 Forbidden: the credentials may not {e.Verb} {e.Resource} in namespace {service.Namespace}; grant get, list and watch on services and endpointslices (deploy/base/rbac.yaml)"
                : $"401 Unauthorized: the API server rejects the credentials of {KubernetesConnection.WithoutUserInfo(api.Server)} (expired token or certificate?)");
            return;
        }
        if (svc is null)
        {
            await Line($"Service: none named {service.Name} in namespace {service.Namespace}");
            _why.Add($"no such service: Service {service.Name} does not exist in namespace {service.Namespace} (kubectl get services -n {service.Namespace})");
        }
        else
        {
            string selector = svc.Spec.Selector is { Count: > 0 } s ? string.Join(",", s.Select(kv => kv.Key + "=" + kv.Value)) : "none";
            await Line($"Service: {svc.Spec.Type ?? "ClusterIP"} {svc.Spec.ClusterIP}, selector {selector}, ports {PortResolver.Describe(svc.Spec.Ports ?? [])}");
        }
        PortChoice choice = PortResolver.Resolve(service, svc, slices, out string? portError);
        if (portError is not null)
        {
            _why.Add("port name missing: " + portError);
        }
        await Line($"EndpointSlices: {slices.Count}");
        if (svc is not null && slices.Count == 0)
        {
            _why.Add(svc.Spec.Selector is { Count: > 0 }
                ? $"no EndpointSlices labelled kubernetes.io/service-name={service.Name}: the EndpointSlice controller has not written any yet"
                : $"no EndpointSlices: the Service has no selector, so nothing writes its slices; create EndpointSlices labelled kubernetes.io/service-name={service.Name}");
        }
        int endpoints = 0, unserved = 0;
        foreach (EndpointSlice slice in slices)
        {
            string ports = string.Join(", ", (slice.Ports ?? []).Select(p => $"{(string.IsNullOrEmpty(p.Name) ? "(unnamed)" : p.Name)} {p.Port?.ToString(CultureInfo.InvariantCulture) ?? "-"}"));
            await Line($"  slice {slice.Metadata.Name} ({slice.AddressType}): {slice.Endpoints?.Count ?? 0} endpoint(s), ports [{ports}]");
            int? port = portError is null ? EndpointMapper.ServedPort(slice, choice) : null;
            foreach (Kubernetes.Model.Endpoint raw in slice.Endpoints ?? [])
            {
                endpoints++;
                string address = raw.Addresses.Count > 0 ? raw.Addresses[0] : "(no address)";
                if (port is not int served)
                {
                    unserved++;
                    await Line($"    {address}: dropped: port name missing: the slice has no port '{choice.Name}' for this Service port");
                    continue;
                }
                if (EndpointMapper.MapEndpoint(raw, served, Loopback.LoopbackEndpointsAllowed(api.Server), out string? invalid) is not Endpoint mapped)
                {
                    await Line($"    {address}: dropped: {invalid}");
                    continue;
                }
                await Line($"    {mapped.Authority}: {(balancer is null ? Conditions(mapped) : State(balancer, mapped))}");
            }
        }
        if (svc is not null && slices.Count > 0 && endpoints == 0)
        {
            string selector = svc.Spec.Selector is { Count: > 0 } s ? string.Join(",", s.Select(kv => kv.Key + "=" + kv.Value)) : "";
            _why.Add($"no endpoints: the selector {selector} matches no pods with an address (kubectl get pods -n {service.Namespace} -l {selector})");
        }
        else if (endpoints > 0 && unserved == endpoints && portError is null)
        {
            string target = svc?.Spec.Ports?.Find(p => (p.Name ?? "") == choice.Name)?.TargetPort?.ToString() ?? choice.Name ?? "";
            _why.Add($"port name mismatch: no slice serves Service port '{choice.Name}' (targetPort {target}); the pods do not declare a containerPort named {target}");
        }
        else if (balancer?.Selection is { Eligible.Length: 0, EmptyReason: string empty } && endpoints > 0)
        {
            _why.Add($"all pods not ready: {empty}; ClientLb sends to ready endpoints, else to serving+terminating ones (check the readiness probes)");
        }
    }

    /// <summary>What the balancer made of an endpoint of its snapshot: eligible, or why not.</summary>
    private static string State(ServiceBalancer balancer, Endpoint endpoint)
    {
        if (balancer.Picker.Endpoints.Any(b => b.Endpoint.SameAddress(endpoint)))
        {
            return "eligible (" + Conditions(endpoint) + ")";
        }
        if (balancer.Selection is { } selection && !selection.Eligible.Any(e => e.SameAddress(endpoint)))
        {
            return "dropped: " + (endpoint.Conditions.Terminating ? "terminating" : "not ready") + " (" + Conditions(endpoint) + ")";
        }
        if (balancer.KnownEndpoints.FirstOrDefault(b => b.Endpoint.SameAddress(endpoint)) is { IsEjected: true })
        {
            return "dropped: ejected by passive health (connection failures or 5xx)";
        }
        return $"dropped: topology (traffic kept at level {balancer.TopologyLevel}; zone {endpoint.Zone ?? "-"}, node {endpoint.NodeName ?? "-"})";
    }

    private static string Conditions(Endpoint e) =>
        $"ready={Flag(e.Conditions.Ready)} serving={Flag(e.Conditions.Serving)} terminating={Flag(e.Conditions.Terminating)}";

    private static string Flag(bool value) => value ? "true" : "false";

    private static string PortText(ServiceName service) =>
        service.PortName is string name ? ", port " + name : service.Port is int number ? ", port " + number.ToString(CultureInfo.InvariantCulture) : "";

    private Task Line(string text) => output.WriteLineAsync(text);
}
