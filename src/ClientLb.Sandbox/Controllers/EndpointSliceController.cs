using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// The EndpointSlice controller, as kube-controller-manager runs it: for every service with a selector, slices
/// labelled kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by, at most N endpoints each,
/// endpoints grouped by their resolved port set, conditions ready/serving/terminating, nodeName, zone, and hints
/// when the service asks for topology-aware routing (annotation) or a trafficDistribution. Endpoints stay in their slice while they exist so
/// one pod change rewrites one slice. Slices of selectorless services are left to their users.
/// </summary>
internal sealed class EndpointSliceController(ObjectStore store, ILogger logger, int maxEndpointsPerSlice) : Controller(store, logger)
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string ManagedByLabel = "endpointslice.kubernetes.io/managed-by";
    public const string ManagedByValue = "endpointslice-controller.k8s.io";
    public const string HeadlessLabel = "service.kubernetes.io/headless";

    protected override void OnEvent(WatchEvent e)
    {
        StoredObject o = e.Object!;
        if (o.Type == ResourceTypes.Services)
        {
            Enqueue(KeyOf(o));
        }
        else if (o.Type == ResourceTypes.EndpointSlices)
        {
            // Someone else touched a managed slice: put it back.
            if (o.Labels.GetValueOrDefault(ManagedByLabel) == ManagedByValue && o.Labels.TryGetValue(ServiceNameLabel, out string? svc))
            {
                Enqueue(o.Namespace + "/" + svc);
            }
        }
        else if (o.Type == ResourceTypes.Pods)
        {
            foreach (StoredObject svc in ServicesSelecting(Store, e))
            {
                Enqueue(KeyOf(svc));
            }
        }
        else if (o.Type == ResourceTypes.Nodes)
        {
            foreach (StoredObject svc in Store.Snapshot(ResourceTypes.Services))
            {
                Enqueue(KeyOf(svc));
            }
        }
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? name) = SplitKey(key);
        StoredObject? svc = Store.Get(ResourceTypes.Services, ns, name);
        List<StoredObject> managed = Store.Snapshot(ResourceTypes.EndpointSlices, ns, s =>
            s.Labels.GetValueOrDefault(ServiceNameLabel) == name && s.Labels.GetValueOrDefault(ManagedByLabel) == ManagedByValue);
        Dictionary<string, string>? selector = svc?.Root.Map("spec", "selector");
        if (svc is null || svc.IsDeleting || selector is null || selector.Count == 0)
        {
            foreach (StoredObject s in managed)
            {
                DeleteSlice(s);
            }

            return Task.CompletedTask;
        }
        Dictionary<string, (JsonArray Ports, Dictionary<string, (string PodName, JsonObject Endpoint)> Endpoints)> desired = DesiredEndpoints(svc, LabelSelector.FromMap(selector));
        Place(svc, desired, managed);
        return Task.CompletedTask;
    }

    /// <summary>Desired endpoints grouped by the JSON of their port list, keyed by pod UID.</summary>
    private Dictionary<string, (JsonArray Ports, Dictionary<string, (string PodName, JsonObject Endpoint)> Endpoints)> DesiredEndpoints(StoredObject svc, LabelSelector selector)
    {
        var zones = Store.Snapshot(ResourceTypes.Nodes).ToDictionary(n => n.Name, n => n.Labels.GetValueOrDefault("topology.kubernetes.io/zone"));
        bool publishNotReady = svc.Root.Get("spec", "publishNotReadyAddresses") is { ValueKind: JsonValueKind.True };
        List<StoredObject> pods = SelectedPods(Store, svc, selector);
        var groups = new Dictionary<string, (JsonArray, Dictionary<string, (string, JsonObject)>)>(StringComparer.Ordinal);
        List<JsonObject>? hinted = HintsWanted(svc) ? new List<JsonObject>() : null;
        // The topology-mode annotation takes precedence over trafficDistribution, as in Kubernetes.
        bool? distributionNodeHints = hinted is null ? DistributionHints(svc) : null;
        var zonesWithReady = new HashSet<string>();
        foreach (StoredObject pod in pods)
        {
            JsonArray ports = EndpointPorts(svc, pod);
            string portsKey = ports.ToJsonString();
            if (!groups.TryGetValue(portsKey, out (JsonArray, Dictionary<string, (string, JsonObject)>) group))
            {
                groups[portsKey] = group = (ports, new Dictionary<string, (string, JsonObject)>(StringComparer.Ordinal));
            }

            bool podReady = PodStatus.IsReady(pod);
            bool terminating = pod.IsDeleting;
            string? nodeName = pod.Root.Str("spec", "nodeName");
            bool ready = publishNotReady || (podReady && !terminating);
            var endpoint = new JsonObject
            {
                ["addresses"] = new JsonArray(pod.Root.Str("status", "podIP")),
                ["conditions"] = new JsonObject
                {
                    ["ready"] = ready,
                    ["serving"] = publishNotReady || podReady,
                    ["terminating"] = terminating,
                },
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = pod.Namespace, ["name"] = pod.Name, ["uid"] = pod.Uid },
            };
            if (nodeName is not null)
            {
                endpoint["nodeName"] = nodeName;
                if (zones.GetValueOrDefault(nodeName) is { } zone)
                {
                    endpoint["zone"] = zone;
                    if (podReady && !terminating)
                    {
                        zonesWithReady.Add(zone);
                    }

                    hinted?.Add(endpoint);
                }
            }
            if (distributionNodeHints is { } forNodes && ready)
            {
                SetDistributionHints(endpoint, forNodes);
            }

            group.Item2[pod.Uid] = (pod.Name, endpoint);
        }
        // Hints only when every zone with nodes has a ready endpoint; otherwise none, as the real controller falls back.
        if (hinted is not null && zones.Values.OfType<string>().Distinct().All(zonesWithReady.Contains))
        {
            foreach (JsonObject e in hinted)
            {
                e["hints"] = new JsonObject { ["forZones"] = new JsonArray(new JsonObject { ["name"] = e.Str("zone") }) };
            }
        }

        return groups;
    }

    /// <summary>The services whose selector matches a changed pod, before or after the change.</summary>
    internal static IEnumerable<StoredObject> ServicesSelecting(ObjectStore store, WatchEvent podEvent)
    {
        StoredObject pod = podEvent.Object!;
        foreach (StoredObject svc in store.Snapshot(ResourceTypes.Services, pod.Namespace))
        {
            Dictionary<string, string> selector = svc.Root.Map("spec", "selector");
            if (selector.Count == 0)
            {
                continue;
            }

            var sel = LabelSelector.FromMap(selector);
            if (sel.Matches(pod.Labels) || (podEvent.Previous is { } prev && sel.Matches(prev.Labels)))
            {
                yield return svc;
            }
        }
    }

    /// <summary>The pods a service's endpoints come from (slices and v1 Endpoints alike): selected, with an IP, not finished.</summary>
    internal static List<StoredObject> SelectedPods(ObjectStore store, StoredObject svc, LabelSelector selector) =>
        store.Snapshot(ResourceTypes.Pods, svc.Namespace, p => selector.Matches(p.Labels)
            && !string.IsNullOrEmpty(p.Root.Str("status", "podIP")) && !PodStatus.IsFinished(p));

    private static bool HintsWanted(StoredObject svc)
    {
        Dictionary<string, string> annotations = svc.Root.Map("metadata", "annotations");
        return annotations.GetValueOrDefault("service.kubernetes.io/topology-mode") is "Auto" or "auto"
            || annotations.GetValueOrDefault("service.kubernetes.io/topology-aware-hints") is "Auto" or "auto";
    }

    /// <summary>
    /// Whether trafficDistribution asks for hints: null when not; else whether node hints too (PreferSameNode). PreferClose
    /// and its newer name PreferSameZone get zone hints only.
    /// </summary>
    private static bool? DistributionHints(StoredObject svc) => svc.Root.Str("spec", "trafficDistribution") switch
    {
        "PreferClose" or "PreferSameZone" => false,
        "PreferSameNode" => true,
        _ => null,
    };

    /// <summary>
    /// The real controller's hints for a trafficDistribution, on ready endpoints only: the endpoint's own zone, and its own
    /// node when <paramref name="forNodes"/> (PreferSameNode keeps zone hints for proxies that do not read node hints).
    /// </summary>
    private static void SetDistributionHints(JsonObject endpoint, bool forNodes)
    {
        var hints = new JsonObject();
        if (endpoint["zone"]?.GetValue<string>() is { } zone)
        {
            hints["forZones"] = new JsonArray(new JsonObject { ["name"] = zone });
        }

        if (forNodes && endpoint["nodeName"]?.GetValue<string>() is { } node)
        {
            hints["forNodes"] = new JsonArray(new JsonObject { ["name"] = node });
        }

        if (hints.Count > 0)
        {
            endpoint["hints"] = hints;
        }
    }

    /// <summary>The service ports as this pod serves them: targetPort by number, or by name looked up in the pod's containers.</summary>
    internal static JsonArray EndpointPorts(StoredObject svc, StoredObject pod)
    {
        var result = new JsonArray();
        foreach (JsonElement sp in svc.Root.Items("spec", "ports"))
        {
            long? port = null;
            JsonElement? target = sp.Get("targetPort");
            if (target is { ValueKind: JsonValueKind.Number } n)
            {
                port = n.GetInt64();
            }
            else if (target is { ValueKind: JsonValueKind.String } s)
            {
                string? portName = s.GetString();
                port = pod.Root.Items("spec", "containers").SelectMany(c => c.Items("ports"))
                    .Where(p => p.Str("name") == portName && (p.Str("protocol") ?? "TCP") == (sp.Str("protocol") ?? "TCP"))
                    .Select(p => p.Int("containerPort")).FirstOrDefault();
            }
            else
            {
                port = sp.Int("port");
            }

            if (port is null)
            {
                continue; // a named port this pod does not have: it serves the other ports only
            }

            var ep = new JsonObject { ["name"] = sp.Str("name") ?? "", ["port"] = port, ["protocol"] = sp.Str("protocol") ?? "TCP" };
            if (sp.Str("appProtocol") is { } app)
            {
                ep["appProtocol"] = app;
            }

            result.Add((JsonNode)ep);
        }
        return result;
    }

    private void Place(StoredObject svc, Dictionary<string, (JsonArray Ports, Dictionary<string, (string PodName, JsonObject Endpoint)> Endpoints)> desired, List<StoredObject> managed)
    {
        JsonObject labels = SliceLabels(svc);
        var placed = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<(StoredObject Slice, string PortsKey, List<JsonObject> Endpoints)>();
        foreach (StoredObject slice in managed)
        {
            string portsKey = (JsonNode.Parse(slice.Root.Get("ports")?.GetRawText() ?? "[]") ?? new JsonArray()).ToJsonString();
            if (!desired.TryGetValue(portsKey, out (JsonArray Ports, Dictionary<string, (string PodName, JsonObject Endpoint)> Endpoints) group)) { kept.Add((slice, "", [])); continue; }
            var endpoints = new List<JsonObject>();
            foreach (JsonElement e in slice.Root.Items("endpoints"))
            {
                if (e.Str("targetRef", "uid") is { } uid && group.Endpoints.TryGetValue(uid, out (string PodName, JsonObject Endpoint) want) && placed.Add(uid))
                {
                    endpoints.Add(want.Endpoint);
                }
            }

            kept.Add((slice, portsKey, endpoints));
        }
        var fresh = new List<(string PortsKey, List<JsonObject> Endpoints)>();
        foreach ((string? portsKey, (JsonArray Ports, Dictionary<string, (string PodName, JsonObject Endpoint)> Endpoints) group) in desired)
        {
            IEnumerable<JsonObject> remaining = group.Endpoints.Where(kv => !placed.Contains(kv.Key)).OrderBy(kv => kv.Value.PodName, StringComparer.Ordinal).Select(kv => kv.Value.Endpoint);
            var queue = new Queue<JsonObject>(remaining);
            foreach ((StoredObject Slice, string PortsKey, List<JsonObject> Endpoints) k in kept.Where(k => k.PortsKey == portsKey))
            {
                while (queue.Count > 0 && k.Endpoints.Count < maxEndpointsPerSlice)
                {
                    k.Endpoints.Add(queue.Dequeue());
                }
            }

            while (queue.Count > 0)
            {
                var chunk = new List<JsonObject>();
                while (queue.Count > 0 && chunk.Count < maxEndpointsPerSlice)
                {
                    chunk.Add(queue.Dequeue());
                }

                fresh.Add((portsKey, chunk));
            }
        }

        int total = kept.Sum(k => k.Endpoints.Count) + fresh.Sum(f => f.Endpoints.Count);
        StoredObject? placeholder = null;
        if (total == 0)
        {
            // A service without endpoints keeps exactly one empty slice, as Kubernetes does.
            placeholder = kept.Count > 0 ? kept[0].Slice : null;
            if (placeholder is null)
            {
                fresh.Add(("[]", []));
            }
        }
        foreach ((StoredObject? slice, string? portsKey, List<JsonObject>? endpoints) in kept)
        {
            if (slice == placeholder) { WriteSlice(svc, slice, new JsonArray(), [], labels); continue; }
            if (endpoints.Count == 0) { DeleteSlice(slice); continue; }
            WriteSlice(svc, slice, desired[portsKey].Ports, endpoints, labels);
        }
        foreach ((string? portsKey, List<JsonObject>? endpoints) in fresh)
        {
            WriteSlice(svc, null, portsKey == "[]" ? new JsonArray() : desired[portsKey].Ports, endpoints, labels);
        }
    }

    private static JsonObject SliceLabels(StoredObject svc)
    {
        var labels = new JsonObject();
        foreach ((string? k, string? v) in svc.Labels)
        {
            if (k is not (ServiceNameLabel or ManagedByLabel or HeadlessLabel))
            {
                labels[k] = v;
            }
        }

        labels[ServiceNameLabel] = svc.Name;
        labels[ManagedByLabel] = ManagedByValue;
        if (svc.Root.Str("spec", "clusterIP") == "None")
        {
            labels[HeadlessLabel] = "";
        }

        return labels;
    }

    private void WriteSlice(StoredObject svc, StoredObject? existing, JsonArray ports, List<JsonObject> endpoints, JsonObject labels)
    {
        JsonObject obj = existing?.ToMutable() ?? new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject { ["generateName"] = svc.Name + "-", ["namespace"] = svc.Namespace },
        };
        JsonObject meta = obj.Metadata();
        meta["labels"] = labels.DeepClone();
        meta["ownerReferences"] = new JsonArray(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["name"] = svc.Name,
            ["uid"] = svc.Uid,
            ["controller"] = true,
            ["blockOwnerDeletion"] = true,
        });
        obj["addressType"] = "IPv4";
        obj["endpoints"] = Json.Array(endpoints.Select(e => e.DeepClone()));
        obj["ports"] = ports.DeepClone();
        if (existing is null)
        {
            Store.Create(ResourceTypes.EndpointSlices, svc.Namespace, obj);
        }
        else
        {
            Store.Update(ResourceTypes.EndpointSlices, existing.Namespace, existing.Name, obj, UpdateMode.Internal);
        }
    }

    private void DeleteSlice(StoredObject slice)
    {
        try { Store.Delete(ResourceTypes.EndpointSlices, slice.Namespace, slice.Name, new DeleteOptions()); }
        catch (ApiException ex) when (ex.Code == 404) { }
    }
}
