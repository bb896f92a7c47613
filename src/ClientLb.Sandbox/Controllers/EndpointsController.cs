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
        var o = e.Object!;
        if (o.Type == ResourceTypes.Services) Enqueue(KeyOf(o));
        else if (o.Type == ResourceTypes.Endpoints) Enqueue(KeyOf(o)); // put back what is not ours to change
        else if (o.Type == ResourceTypes.Pods)
            foreach (var svc in EndpointSliceController.ServicesSelecting(Store, e)) Enqueue(KeyOf(svc));
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        var (ns, name) = SplitKey(key);
        var svc = Store.Get(ResourceTypes.Services, ns, name);
        var existing = Store.Get(ResourceTypes.Endpoints, ns, name);
        var selector = svc?.Root.Map("spec", "selector");
        if (svc is null || svc.IsDeleting || selector is null || selector.Count == 0)
        {
            if (existing is not null) Store.Remove(ResourceTypes.Endpoints, ns, name, existing.Uid);
            return Task.CompletedTask;
        }
        var desired = Desired(svc, LabelSelector.FromMap(selector));
        if (existing is null)
        {
            Store.Create(ResourceTypes.Endpoints, ns, desired);
            return Task.CompletedTask;
        }
        var current = existing.ToMutable();
        if (Json.DeepEquals(current["subsets"], desired["subsets"])
            && Json.DeepEquals(current.Node("metadata", "labels"), desired.Node("metadata", "labels"))
            && Json.DeepEquals(current.Node("metadata", "annotations"), desired.Node("metadata", "annotations"))
            && current.Node("metadata", "ownerReferences") is null)
            return Task.CompletedTask;
        var meta = current.Metadata();
        meta["labels"] = desired.Node("metadata", "labels")?.DeepClone();
        meta["annotations"] = desired.Node("metadata", "annotations")?.DeepClone();
        meta.Remove("ownerReferences");
        var (wasReady, wasNotReady) = Count(existing.ToMutable());
        current["subsets"] = desired["subsets"]!.DeepClone();
        Store.Update(ResourceTypes.Endpoints, ns, name, current, UpdateMode.Internal);
        var (ready, notReady) = Count(current);
        if (ready != wasReady || notReady != wasNotReady)
            events?.Normal(svc, "endpoint-controller", "EndpointsChanged", $"Endpoints of service {name}: {ready} ready, {notReady} not ready (were {wasReady} and {wasNotReady})");
        return Task.CompletedTask;
    }

    JsonObject Desired(StoredObject svc, LabelSelector selector)
    {
        var publishNotReady = svc.Root.Get("spec", "publishNotReadyAddresses") is { ValueKind: JsonValueKind.True };
        var subsets = new Dictionary<string, (JsonArray Ports, List<JsonObject> Ready, List<JsonObject> NotReady)>(StringComparer.Ordinal);
        foreach (var pod in EndpointSliceController.SelectedPods(Store, svc, selector))
        {
            if (pod.IsDeleting && !publishNotReady) continue;
            var ports = EndpointSliceController.EndpointPorts(svc, pod);
            if (ports.Count == 0 && svc.Root.Items("spec", "ports").Any()) continue; // serves none of the service's ports
            foreach (var p in ports.OfType<JsonObject>()) if (p.Str("name") == "") p.Remove("name");
            var portsKey = ports.ToJsonString();
            if (!subsets.TryGetValue(portsKey, out var subset)) subsets[portsKey] = subset = (ports, [], []);
            var address = new JsonObject { ["ip"] = pod.Root.Str("status", "podIP") };
            if (pod.Root.Str("spec", "nodeName") is { } node) address["nodeName"] = node;
            address["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = pod.Namespace, ["name"] = pod.Name, ["uid"] = pod.Uid };
            (publishNotReady || PodStatus.IsReady(pod) ? subset.Ready : subset.NotReady).Add(address);
        }
        var ordered = subsets.Values.Select(s => (s.Ports, Ready: Sorted(s.Ready), NotReady: Sorted(s.NotReady))).ToList();
        var truncated = Truncate(ordered);
        var labels = new JsonObject();
        foreach (var (k, v) in svc.Labels) labels[k] = v;
        if (svc.Root.Str("spec", "clusterIP") == "None") labels[EndpointSliceController.HeadlessLabel] = "";
        var meta = new JsonObject { ["name"] = svc.Name, ["namespace"] = svc.Namespace };
        if (labels.Count > 0) meta["labels"] = labels;
        if (truncated) meta["annotations"] = new JsonObject { [OverCapacityAnnotation] = "truncated" };
        var result = new JsonArray();
        foreach (var (ports, ready, notReady) in ordered)
        {
            if (ready.Count == 0 && notReady.Count == 0) continue;
            var subset = new JsonObject();
            if (ready.Count > 0) subset["addresses"] = Json.Array(ready);
            if (notReady.Count > 0) subset["notReadyAddresses"] = Json.Array(notReady);
            if (ports.Count > 0) subset["ports"] = ports;
            result.Add((JsonNode)subset);
        }
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Endpoints", ["metadata"] = meta, ["subsets"] = result };
    }

    static (int Ready, int NotReady) Count(JsonObject endpoints)
    {
        var subsets = (endpoints["subsets"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        return (subsets.Sum(s => (s["addresses"] as JsonArray)?.Count ?? 0), subsets.Sum(s => (s["notReadyAddresses"] as JsonArray)?.Count ?? 0));
    }

    static List<JsonObject> Sorted(List<JsonObject> addresses) =>
        addresses.OrderBy(a => System.Net.IPAddress.Parse(a.Str("ip")!).GetAddressBytes(), ByteOrder.Instance).ThenBy(a => a.Str("targetRef", "uid"), StringComparer.Ordinal).ToList();

    /// <summary>
    /// The upstream controller's truncation past <see cref="MaxCapacity"/>: not-ready addresses go first; when the ready ones
    /// alone are too many, every subset keeps its proportional share (rounded up) of ready ones and no not-ready ones.
    /// </summary>
    static bool Truncate(List<(JsonArray Ports, List<JsonObject> Ready, List<JsonObject> NotReady)> subsets)
    {
        var totalReady = subsets.Sum(s => s.Ready.Count);
        var totalNotReady = subsets.Sum(s => s.NotReady.Count);
        if (totalReady + totalNotReady <= MaxCapacity) return false;
        var truncateReady = totalReady > MaxCapacity;
        var max = truncateReady ? MaxCapacity : MaxCapacity - totalReady;
        var numTotal = truncateReady ? totalReady : totalNotReady;
        var canBeAdded = max;
        foreach (var (_, ready, notReady) in subsets)
        {
            var inSubset = truncateReady ? ready.Count : notReady.Count;
            var toBeAdded = Math.Min((int)Math.Ceiling((double)inSubset / numTotal * max), canBeAdded);
            if (truncateReady)
            {
                if (ready.Count > toBeAdded) ready.RemoveRange(toBeAdded, ready.Count - toBeAdded);
                notReady.Clear();
                canBeAdded -= ready.Count;
            }
            else
            {
                if (notReady.Count > toBeAdded) notReady.RemoveRange(toBeAdded, notReady.Count - toBeAdded);
                canBeAdded -= notReady.Count;
            }
        }
        return true;
    }

    sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x!.AsSpan().SequenceCompareTo(y);
    }
}
