using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// The v1 Endpoints controller, as kube-controller-manager runs it: one Endpoints object per service with a selector,
/// named after it, from the same pods as its EndpointSlices. Addresses are grouped into subsets by their resolved port set;
/// ready pods go to <c>addresses</c>, unready ones to <c>notReadyAddresses</c> (all ready with publishNotReadyAddresses),
/// terminating pods are left out. Past <see cref="MaxCapacity"/> addresses the object is truncated (ready ones kept first)
/// and annotated <c>endpoints.kubernetes.io/over-capacity: truncated</c>.
/// </summary>
internal sealed class EndpointsController(ObjectStore store, ILogger logger, EventRecorder? events = null) : Controller(store, logger)
{
    /// <summary>The upstream controller's cap on addresses in one Endpoints object.</summary>
    public const int MaxCapacity = 1000;
    public const string OverCapacityAnnotation = "endpoints.kubernetes.io/over-capacity";

    protected override void OnEvent(WatchEvent e)
    {
        StoredObject o = e.Object!;
        if (o.Type == ResourceTypes.Services)
        {
            Enqueue(KeyOf(o));
        }
        else if (o.Type == ResourceTypes.Endpoints)
        {
            Enqueue(KeyOf(o)); // put back what is not ours to change
        }
        else if (o.Type == ResourceTypes.Pods)
        {
            foreach (StoredObject svc in EndpointSliceController.ServicesSelecting(Store, e))
            {
                Enqueue(KeyOf(svc));
            }
        }
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? name) = SplitKey(key);
        StoredObject? svc = Store.Get(ResourceTypes.Services, ns, name);
        StoredObject? existing = Store.Get(ResourceTypes.Endpoints, ns, name);
        Dictionary<string, string>? selector = svc?.Root.Map("spec", "selector");
        if (svc is null || svc.IsDeleting || selector is null || selector.Count == 0)
        {
            if (existing is not null)
            {
                Store.Remove(ResourceTypes.Endpoints, ns, name, existing.Uid);
            }

            return Task.CompletedTask;
        }
        JsonObject desired = Desired(svc, LabelSelector.FromMap(selector));
        if (existing is null)
        {
            Store.Create(ResourceTypes.Endpoints, ns, desired);
            return Task.CompletedTask;
        }
        JsonObject current = existing.ToMutable();
        if (Json.DeepEquals(current["subsets"], desired["subsets"])
            && Json.DeepEquals(current.Node("metadata", "labels"), desired.Node("metadata", "labels"))
            && Json.DeepEquals(current.Node("metadata", "annotations"), desired.Node("metadata", "annotations"))
            && current.Node("metadata", "ownerReferences") is null)
        {
            return Task.CompletedTask;
        }

        JsonObject meta = current.Metadata();
        foreach (string field in (string[])["labels", "annotations"])
        {
            // Absent, not null, when the desired object has none (as the API server stores it).
            if (desired.Node("metadata", field) is { } value)
            {
                meta[field] = value.DeepClone();
            }
            else
            {
                meta.Remove(field);
            }
        }
        meta.Remove("ownerReferences");
        (int wasReady, int wasNotReady) = Count(existing.ToMutable());
        if (desired["subsets"] is { } subsets)
        {
            current["subsets"] = subsets.DeepClone();
        }
        else
        {
            current.Remove("subsets");
        }

        Store.Update(ResourceTypes.Endpoints, ns, name, current, UpdateMode.Internal);
        (int ready, int notReady) = Count(current);
        if (ready != wasReady || notReady != wasNotReady)
        {
            events?.Normal(svc, "endpoint-controller", "EndpointsChanged", $"Endpoints of service {name}: {ready} ready, {notReady} not ready (were {wasReady} and {wasNotReady})");
        }

        return Task.CompletedTask;
    }

    private JsonObject Desired(StoredObject svc, LabelSelector selector)
    {
        bool publishNotReady = svc.Root.Get("spec", "publishNotReadyAddresses") is { ValueKind: JsonValueKind.True };
        var subsets = new Dictionary<string, (JsonArray Ports, List<JsonObject> Ready, List<JsonObject> NotReady)>(StringComparer.Ordinal);
        foreach (StoredObject pod in EndpointSliceController.SelectedPods(Store, svc, selector))
        {
            if (pod.IsDeleting && !publishNotReady)
            {
                continue;
            }

            JsonArray ports = EndpointSliceController.EndpointPorts(svc, pod);
            if (ports.Count == 0 && svc.Root.Items("spec", "ports").Any())
            {
                continue; // serves none of the service's ports
            }

            foreach (JsonObject p in ports.OfType<JsonObject>())
            {
                if (p.Str("name") == "")
                {
                    p.Remove("name");
                }
            }

            string portsKey = ports.ToJsonString();
            if (!subsets.TryGetValue(portsKey, out (JsonArray Ports, List<JsonObject> Ready, List<JsonObject> NotReady) subset))
            {
                subsets[portsKey] = subset = (ports, [], []);
            }

            var address = new JsonObject { ["ip"] = pod.Root.Str("status", "podIP") };
            if (pod.Root.Str("spec", "nodeName") is { } node)
            {
                address["nodeName"] = node;
            }

            address["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = pod.Namespace, ["name"] = pod.Name, ["uid"] = pod.Uid };
            (publishNotReady || PodStatus.IsReady(pod) ? subset.Ready : subset.NotReady).Add(address);
        }
        var ordered = subsets.Values.Select(s => (s.Ports, Ready: Sorted(s.Ready), NotReady: Sorted(s.NotReady))).ToList();
        bool truncated = Truncate(ordered);
        var labels = new JsonObject();
        foreach ((string? k, string? v) in svc.Labels)
        {
            labels[k] = v;
        }

        if (svc.Root.Str("spec", "clusterIP") == "None")
        {
            labels[EndpointSliceController.HeadlessLabel] = "";
        }

        var meta = new JsonObject { ["name"] = svc.Name, ["namespace"] = svc.Namespace };
        if (labels.Count > 0)
        {
            meta["labels"] = labels;
        }

        if (truncated)
        {
            meta["annotations"] = new JsonObject { [OverCapacityAnnotation] = "truncated" };
        }

        var result = new JsonArray();
        foreach ((JsonArray? ports, List<JsonObject>? ready, List<JsonObject>? notReady) in ordered)
        {
            if (ready.Count == 0 && notReady.Count == 0)
            {
                continue;
            }

            var subset = new JsonObject();
            if (ready.Count > 0)
            {
                subset["addresses"] = Json.Array(ready);
            }

            if (notReady.Count > 0)
            {
                subset["notReadyAddresses"] = Json.Array(notReady);
            }

            if (ports.Count > 0)
            {
                subset["ports"] = ports;
            }

            result.Add((JsonNode)subset);
        }
        var endpoints = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Endpoints", ["metadata"] = meta };
        if (result.Count > 0)
        {
            endpoints["subsets"] = result; // omitempty upstream: no endpoints, no "subsets"
        }

        return endpoints;
    }

    private static (int Ready, int NotReady) Count(JsonObject endpoints)
    {
        var subsets = (endpoints["subsets"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        return (subsets.Sum(s => (s["addresses"] as JsonArray)?.Count ?? 0), subsets.Sum(s => (s["notReadyAddresses"] as JsonArray)?.Count ?? 0));
    }

    private static List<JsonObject> Sorted(List<JsonObject> addresses) =>
        addresses.OrderBy(a => System.Net.IPAddress.Parse(a.Str("ip")!).GetAddressBytes(), ByteOrder.Instance).ThenBy(a => a.Str("targetRef", "uid"), StringComparer.Ordinal).ToList();

    /// <summary>
    /// The upstream controller's truncation past <see cref="MaxCapacity"/>: not-ready addresses go first; when the ready ones
    /// alone are too many, every subset keeps its proportional share (rounded up) of ready ones and no not-ready ones.
    /// </summary>
    private static bool Truncate(List<(JsonArray Ports, List<JsonObject> Ready, List<JsonObject> NotReady)> subsets)
    {
        int totalReady = subsets.Sum(s => s.Ready.Count);
        int totalNotReady = subsets.Sum(s => s.NotReady.Count);
        if (totalReady + totalNotReady <= MaxCapacity)
        {
            return false;
        }

        bool truncateReady = totalReady > MaxCapacity;
        int max = truncateReady ? MaxCapacity : MaxCapacity - totalReady;
        int numTotal = truncateReady ? totalReady : totalNotReady;
        int canBeAdded = max;
        foreach ((JsonArray _, List<JsonObject>? ready, List<JsonObject>? notReady) in subsets)
        {
            int inSubset = truncateReady ? ready.Count : notReady.Count;
            int toBeAdded = Math.Min((int)Math.Ceiling((double)inSubset / numTotal * max), canBeAdded);
            if (truncateReady)
            {
                if (ready.Count > toBeAdded)
                {
                    ready.RemoveRange(toBeAdded, ready.Count - toBeAdded);
                }

                notReady.Clear();
                canBeAdded -= ready.Count;
            }
            else
            {
                if (notReady.Count > toBeAdded)
                {
                    notReady.RemoveRange(toBeAdded, notReady.Count - toBeAdded);
                }

                canBeAdded -= notReady.Count;
            }
        }
        return true;
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x!.AsSpan().SequenceCompareTo(y);
    }
}
