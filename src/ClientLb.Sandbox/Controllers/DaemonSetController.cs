using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// DaemonSets: one pod per sandbox node (pinned with spec.nodeName, owned by the DaemonSet), pods of an old template
/// replaced (RollingUpdate) or left until deleted (OnDelete), and the status counters kubectl prints.
/// </summary>
internal sealed class DaemonSetController(ObjectStore store, ILogger logger) : Controller(store, logger)
{
    protected override void OnEvent(WatchEvent e)
    {
        StoredObject o = e.Object!;
        if (o.Type == ResourceTypes.DaemonSets)
        {
            Enqueue(KeyOf(o));
        }
        else if (o.Type == ResourceTypes.Nodes)
        {
            foreach (StoredObject ds in Store.Snapshot(ResourceTypes.DaemonSets))
            {
                Enqueue(KeyOf(ds));
            }
        }
        else
        {
            EnqueueControllerOwner(e, "DaemonSet");
        }
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? name) = SplitKey(key);
        StoredObject? ds = Store.Get(ResourceTypes.DaemonSets, ns, name);
        if (ds is null || ds.IsDeleting)
        {
            return Task.CompletedTask;
        }

        JsonElement template = ds.Root.Get("spec", "template")!.Value;
        string hash = DeploymentController.TemplateHash(template);
        var nodes = Store.Snapshot(ResourceTypes.Nodes).Select(n => n.Name).ToList();
        List<StoredObject> active = Store.Snapshot(ResourceTypes.Pods, ns, p => IsOwnedBy(p, ds.Uid) && !p.IsDeleting && !PodStatus.IsFinished(p));
        bool onDelete = ds.Root.Str("spec", "updateStrategy", "type") == "OnDelete";
        foreach (string? node in nodes)
        {
            var here = active.Where(p => p.Root.Str("spec", "nodeName") == node).OrderBy(p => p.Labels.GetValueOrDefault(DeploymentController.TemplateHashLabel) == hash ? 0 : 1).ToList();
            if (here.Count == 0)
            {
                JsonObject pod = DeploymentController.NewPod(ds, "DaemonSet", template, hash, $"{ds.Name}-");
                pod.Obj("spec")["nodeName"] = node;
                Store.Create(ResourceTypes.Pods, ns, pod);
                continue;
            }
            foreach (StoredObject? extra in here.Skip(1))
            {
                Delete(extra);
            }

            if (!onDelete && here[0].Labels.GetValueOrDefault(DeploymentController.TemplateHashLabel) != hash)
            {
                Delete(here[0]); // recreated on the next pass
            }
        }
        foreach (StoredObject? stray in active.Where(p => !nodes.Contains(p.Root.Str("spec", "nodeName") ?? "")))
        {
            Delete(stray);
        }

        var scheduled = active.Where(p => nodes.Contains(p.Root.Str("spec", "nodeName") ?? "")).ToList();
        int ready = scheduled.Count(PodStatus.IsReady);
        int updated = scheduled.Count(p => p.Labels.GetValueOrDefault(DeploymentController.TemplateHashLabel) == hash);
        Store.Mutate(ResourceTypes.DaemonSets, ns, name, o =>
        {
            var status = new JsonObject
            {
                ["currentNumberScheduled"] = scheduled.Count,
                ["numberMisscheduled"] = 0,
                ["desiredNumberScheduled"] = nodes.Count,
                ["numberReady"] = ready,
                ["observedGeneration"] = o.Node("metadata", "generation")?.DeepClone(),
                ["updatedNumberScheduled"] = updated,
                ["numberAvailable"] = ready,
            };
            if (nodes.Count - ready > 0)
            {
                status["numberUnavailable"] = nodes.Count - ready;
            }

            o["status"] = status;
            return o;
        }, UpdateMode.Internal);
        return Task.CompletedTask;
    }

    private void Delete(StoredObject pod)
    {
        try { Store.Delete(ResourceTypes.Pods, pod.Namespace, pod.Name, new DeleteOptions()); }
        catch (ApiException ex) when (ex.Code == 404) { }
    }
}
