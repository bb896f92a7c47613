using System.Globalization;
using System.Net;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Slices;
using ClientLb.Names;
using ClientLb.Registry;
using Endpoint = ClientLb.Endpoints.Endpoint;
using KubernetesClientConfiguration = k8s.KubernetesClientConfiguration;

namespace ClientLb.Cli.Commands;

/// <summary>
/// <c>clientlb resolve --explain NAME</c>: why a name resolves to what it does. What ClientLb's source concluded (the
/// source used, its snapshot, which endpoints are eligible), and for the Kubernetes source the API objects behind it:
/// the Service, every EndpointSlice, and each endpoint dropped with its reason (invalid address, the slice does not serve
/// the port, not ready, terminating, ejected, outside the topology). The port choice and the slice mapping are the
/// source's own code (<see cref="ServiceSlices.Explain"/>), so the explanation cannot disagree with it.
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
        ServiceSlices read;
        try
        {
            read = await ServiceSlices.ReadAsync(api, service.Namespace, service.Name, cancellationToken);
        }
        catch (KubernetesApiException e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            await Line($"api: {e.Message}");
            _why.Add(e.StatusCode == HttpStatusCode.Forbidden
                ? $"RBAC: 403 Forbidden: the credentials may not {e.Verb} {e.Resource} in namespace {service.Namespace}; grant get, list and watch on services and endpointslices (deploy/base/rbac.yaml)"
                : $"401 Unauthorized: the API server rejects the credentials of {KubernetesConnection.WithoutUserInfo(api.Server)} (expired token or certificate?)");
            return;
        }
        KubernetesServiceInfo? svc = read.ServiceInfo;
        string selector = svc is not null && svc.Selector.Count > 0 ? string.Join(",", svc.Selector.Select(kv => kv.Key + "=" + kv.Value)) : "";
        if (svc is null)
        {
            await Line($"Service: none named {service.Name} in namespace {service.Namespace}");
            _why.Add($"no such service: Service {service.Name} does not exist in namespace {service.Namespace} (kubectl get services -n {service.Namespace})");
        }
        else
        {
            string ports = svc.Ports.Count == 0 ? "none" : string.Join(", ", svc.Ports);
            await Line($"Service: {svc.Type} {svc.ClusterIP ?? (svc.IsHeadless ? "None" : "")}, selector {(selector.Length > 0 ? selector : "none")}, ports {ports}");
        }
        ServiceNameMapping mapping = read.Explain(service, Loopback.LoopbackEndpointsAllowed(api.Server));
        if (mapping.PortError is not null)
        {
            _why.Add("port name missing: " + mapping.PortError);
        }
        await Line($"EndpointSlices: {mapping.Slices.Count}");
        if (svc is not null && mapping.Slices.Count == 0)
        {
            _why.Add(selector.Length > 0
                ? $"no EndpointSlices labelled kubernetes.io/service-name={service.Name}: the EndpointSlice controller has not written any yet"
                : $"no EndpointSlices: the Service has no selector, so nothing writes its slices; create EndpointSlices labelled kubernetes.io/service-name={service.Name}");
        }
        int endpoints = 0, unserved = 0;
        foreach (SliceMapping slice in mapping.Slices)
        {
            await Line($"  slice {slice.Name} ({slice.AddressType}): {slice.Endpoints.Count} endpoint(s), ports [{string.Join(", ", slice.Ports)}]");
            foreach (EndpointMapping endpoint in slice.Endpoints)
            {
                endpoints++;
                if (!endpoint.Served)
                {
                    unserved++;
                }
                await Line(endpoint.Endpoint is Endpoint mapped
                    ? $"    {mapped.Authority}: {(balancer is null ? Conditions(mapped) : State(balancer, mapped))}"
                    : $"    {endpoint.Address}: dropped: {endpoint.DropReason}");
            }
        }
        if (svc is not null && mapping.Slices.Count > 0 && endpoints == 0)
        {
            _why.Add($"no endpoints: the selector {selector} matches no pods with an address (kubectl get pods -n {service.Namespace} -l {selector})");
        }
        else if (endpoints > 0 && unserved == endpoints && mapping.PortError is null)
        {
            string target = svc?.Ports.FirstOrDefault(p => (p.Name ?? "") == mapping.PortName)?.TargetPort ?? mapping.PortName ?? "";
            _why.Add($"port name mismatch: no slice serves Service port '{mapping.PortName}' (targetPort {target}); the pods do not declare a containerPort named {target}");
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
