using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Controllers;

/// <summary>Reads of a pod's status shared by the controllers.</summary>
internal static class PodStatus
{
    /// <summary>The pod's Ready condition is True.</summary>
    public static bool IsReady(StoredObject pod) =>
        pod.Root.Items("status", "conditions").Any(c => c.Str("type") == "Ready" && c.Str("status") == "True");

    public static bool IsFinished(StoredObject pod) => pod.Root.Str("status", "phase") is "Succeeded" or "Failed";
}
