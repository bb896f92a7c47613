using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// Writes core v1 Events about objects, as client-go's recorder does: a repeat of the same reason and message on the same
/// object bumps <c>count</c> and <c>lastTimestamp</c> of the existing Event instead of adding one.
/// </summary>
internal sealed class EventRecorder(ObjectStore store)
{
    private readonly Lock _lock = new();

    public void Normal(StoredObject about, string component, string reason, string message) => Record(about, component, "Normal", reason, message);

    public void Warning(StoredObject about, string component, string reason, string message) => Record(about, component, "Warning", reason, message);

    private void Record(StoredObject about, string component, string type, string reason, string message)
    {
        string ns = about.Type.Namespaced ? about.Namespace : "default";
        if (store.Get(ResourceTypes.Namespaces, null, ns) is null or { IsDeleting: true })
        {
            return;
        }

        string now = Json.Timestamp(store.Time.GetUtcNow());
        lock (_lock)
        {
            StoredObject? existing = store.Snapshot(ResourceTypes.Events, ns, e => e.Root.Str("involvedObject", "uid") == about.Uid
                && e.Root.Str("reason") == reason && e.Root.Str("message") == message && e.Root.Str("type") == type).FirstOrDefault();
            try
            {
                if (existing is not null)
                {
                    store.Mutate(ResourceTypes.Events, ns, existing.Name, e =>
                    {
                        e["count"] = (existing.Root.Int("count") ?? 1) + 1;
                        e["lastTimestamp"] = now;
                        return e;
                    }, UpdateMode.Internal);
                    return;
                }
                store.Create(ResourceTypes.Events, ns, new JsonObject
                {
                    ["metadata"] = new JsonObject { ["name"] = $"{about.Name}.{store.Time.GetUtcNow().UtcTicks:x}{ObjectStore.RandomSuffix(3)}" },
                    ["involvedObject"] = new JsonObject
                    {
                        ["kind"] = about.Type.Kind,
                        ["namespace"] = about.Type.Namespaced ? about.Namespace : null,
                        ["name"] = about.Name,
                        ["uid"] = about.Uid,
                        ["apiVersion"] = about.Type.ApiVersion,
                        ["resourceVersion"] = about.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    },
                    ["reason"] = reason,
                    ["message"] = message,
                    ["source"] = new JsonObject { ["component"] = component },
                    ["firstTimestamp"] = now,
                    ["lastTimestamp"] = now,
                    ["count"] = 1,
                    ["type"] = type,
                    ["reportingComponent"] = component,
                    ["reportingInstance"] = "clientlb-sandbox",
                });
            }
            catch (ApiException ex) when (ex.Code is 404 or 403 or 409) { } // the namespace went away meanwhile: nothing to tell
        }
    }
}
