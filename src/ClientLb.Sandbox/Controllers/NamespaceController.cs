using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>Finishes namespace deletion: deletes everything inside a Terminating namespace, then removes it.</summary>
internal sealed class NamespaceController(ObjectStore store, ILogger logger) : Controller(store, logger)
{
    protected override void OnEvent(WatchEvent e)
    {
        StoredObject o = e.Object!;
        if (o.Type == ResourceTypes.Namespaces)
        {
            if (o.IsDeleting)
            {
                Enqueue("/" + o.Name);
            }
        }
        else if (e.Type == WatchEventType.Deleted && Store.Get(ResourceTypes.Namespaces, null, o.Namespace) is { IsDeleting: true })
        {
            Enqueue("/" + o.Namespace);
        }
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        string name = key[1..];
        StoredObject? ns = Store.Get(ResourceTypes.Namespaces, null, name);
        if (ns is null || !ns.IsDeleting)
        {
            return Task.CompletedTask;
        }

        int left = 0;
        foreach (ResourceType? t in ResourceTypes.All.Where(t => t.Namespaced))
        {
            foreach (StoredObject o in Store.Snapshot(t, name))
            {
                left++;
                if (o.IsDeleting)
                {
                    continue;
                }

                try { Store.Delete(t, o.Namespace, o.Name, new DeleteOptions()); }
                catch (ApiException ex) when (ex.Code == 404) { }
            }
        }

        if (left == 0)
        {
            Store.Remove(ResourceTypes.Namespaces, null, name, ns.Uid);
        }

        return Task.CompletedTask;
    }
}
