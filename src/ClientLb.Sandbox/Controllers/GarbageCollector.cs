using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// Background cascading deletion: when an owner is deleted, objects whose ownerReferences name its UID are
/// deleted too (pods of a deployment, slices of a service), as the garbage collector does.
/// </summary>
internal sealed class GarbageCollector(ObjectStore store, ILogger logger) : Controller(store, logger)
{
    private static readonly ResourceType[] Dependents = [ResourceTypes.Pods, ResourceTypes.EndpointSlices, ResourceTypes.Services, ResourceTypes.Deployments];

    protected override void OnEvent(WatchEvent e)
    {
        if (e.Type == WatchEventType.Deleted && e.Object is { } o)
        {
            Enqueue(o.Namespace + "/" + o.Uid);
        }
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? uid) = SplitKey(key);
        if (OwnerExists(ns, uid))
        {
            return Task.CompletedTask;
        }

        foreach (ResourceType t in Dependents)
        {
            foreach (StoredObject o in Store.Snapshot(t, ns.Length == 0 ? null : ns, o => IsOwnedBy(o, uid) && !o.IsDeleting))
            {
                try { Store.Delete(t, o.Namespace, o.Name, new DeleteOptions()); }
                catch (ApiException ex) when (ex.Code == 404) { }
            }
        }

        return Task.CompletedTask;
    }

    private bool OwnerExists(string ns, string uid)
    {
        foreach (ResourceType t in ResourceTypes.All)
        {
            if (Store.Snapshot(t, t.Namespaced && ns.Length > 0 ? ns : null, o => o.Uid == uid).Count > 0)
            {
                return true;
            }
        }

        return false;
    }
}
