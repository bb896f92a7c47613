using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Pods;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// batch/v1 Jobs (NonIndexed): keeps min(parallelism, remaining completions) pods of the template running (their
/// containers run as <see cref="ProgramRunner"/> programs), replaces failed pods after the backoff (doubling from
/// <see cref="SandboxOptions.JobBackoff"/>), and writes status (active, ready, succeeded, failed, startTime,
/// completionTime) and the Complete or Failed condition (BackoffLimitExceeded, DeadlineExceeded, or ImageNotRunnable
/// at once when a pod's image has no program), with the Job controller's Events; a finished Job is deleted after its
/// ttlSecondsAfterFinished.
/// </summary>
internal sealed class JobController(ObjectStore store, ILogger logger, EventRecorder events, TimeSpan backoff) : Controller(store, logger)
{
    private const string Component = "job-controller";

    protected override void OnEvent(WatchEvent e)
    {
        StoredObject o = e.Object!;
        if (o.Type == ResourceTypes.Jobs)
        {
            Enqueue(KeyOf(o));
        }
        else
        {
            EnqueueControllerOwner(e, "Job");
        }
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? name) = SplitKey(key);
        StoredObject? job = Store.Get(ResourceTypes.Jobs, ns, name);
        if (job is null || job.IsDeleting)
        {
            return Task.CompletedTask; // its pods go through the garbage collector
        }

        DateTimeOffset now = Store.Time.GetUtcNow();
        JsonElement? status = job.Root.Get("status");
        if (status?.Items("conditions").FirstOrDefault(c => c.Str("type") is "Complete" or "Failed" && c.Str("status") == "True") is { ValueKind: System.Text.Json.JsonValueKind.Object } done)
        {
            // ttlSecondsAfterFinished: the TTL-after-finished controller deletes the Job (and so its pods) once it expires.
            if (job.Root.Int("spec", "ttlSecondsAfterFinished") is { } ttl && done.Str("lastTransitionTime") is { } finished)
            {
                TimeSpan left = DateTimeOffset.Parse(finished, System.Globalization.CultureInfo.InvariantCulture).AddSeconds(ttl) - now;
                if (left > TimeSpan.Zero)
                {
                    Later(key, left);
                }
                else
                {
                    try { Store.Delete(ResourceTypes.Jobs, ns, name, new DeleteOptions()); }
                    catch (ApiException ex) when (ex.Code == 404) { }
                }
            }
            return Task.CompletedTask;
        }

        List<StoredObject> pods = Store.Snapshot(ResourceTypes.Pods, ns, p => IsOwnedBy(p, job.Uid));
        var active = pods.Where(p => !p.IsDeleting && !PodStatus.IsFinished(p)).ToList();
        int succeeded = pods.Count(p => p.Root.Str("status", "phase") == "Succeeded");
        var failedPods = pods.Where(p => p.Root.Str("status", "phase") == "Failed").ToList();
        int failed = failedPods.Count;
        // OnFailure restarts count toward backoffLimit too, as upstream counts them (status.failed counts failed pods only).
        int failures = failed + (int)pods.Sum(p => p.Root.Items("status", "containerStatuses").Sum(c => c.Int("restartCount") ?? 0));
        JsonElement spec = job.Root.Get("spec")!.Value;
        long? completions = spec.Int("completions");
        int parallelism = (int)(spec.Int("parallelism") ?? 1);
        long backoffLimit = spec.Int("backoffLimit") ?? 6;
        bool suspended = spec.Get("suspend") is { ValueKind: System.Text.Json.JsonValueKind.True };
        DateTimeOffset startTime = status?.Str("startTime") is { } s ? DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : now;

        (string Reason, string Message)? failure = null;
        if (failedPods.FirstOrDefault(p => p.Root.Str("status", "reason") is ProgramRunner.ImageNotRunnable or ProgramRunner.ConfigError) is { } bad)
        {
            failure = (bad.Root.Str("status", "reason")!, $"pod {bad.Name}: {bad.Root.Str("status", "message")}");
        }
        else if (failures > backoffLimit)
        {
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit");
        }
        else if (spec.Int("activeDeadlineSeconds") is { } deadline && !suspended)
        {
            TimeSpan remaining = startTime.AddSeconds(deadline) - now;
            if (remaining <= TimeSpan.Zero)
            {
                failure = ("DeadlineExceeded", "Job was active longer than specified deadline");
            }
            else
            {
                Later(key, remaining);
            }
        }
        // NonIndexed: done when completions pods succeeded; without completions (a work queue), when one did and none runs.
        bool complete = failure is null && (completions is { } c ? succeeded >= c : succeeded > 0 && active.Count == 0);

        if (failure is not null || complete || suspended)
        {
            foreach (StoredObject? pod in active)
            {
                Delete(pod);
            }
        }
        else
        {
            // A work queue (no completions) starts no more pods once one succeeded: the others finish the work.
            int want = Math.Min(parallelism, completions is { } c2 ? (int)c2 - succeeded : succeeded > 0 ? 0 : parallelism) - active.Count;
            if (want > 0 && WaitBackoff(key, failedPods, now) is false)
            {
                for (int i = 0; i < want; i++)
                {
                    JsonObject pod = DeploymentController.NewPod(job, "Job", spec.Get("template")!.Value, null, $"{job.Name}-");
                    StoredObject created = Store.Create(ResourceTypes.Pods, ns, pod);
                    events.Normal(job, Component, "SuccessfulCreate", $"Created pod: {created.Name}");
                }
            }
        }

        if (failure is { } f)
        {
            events.Warning(job, Component, f.Reason, f.Message);
        }
        else if (complete)
        {
            events.Normal(job, Component, "Completed", "Job completed");
        }

        Store.Mutate(ResourceTypes.Jobs, ns, name, o =>
        {
            var old = o["status"] as JsonObject;
            var st = new JsonObject();
            string stamp = Json.Timestamp(now);
            if (!suspended || old?.Str("startTime") is not null)
            {
                st["startTime"] = old?.Str("startTime") ?? stamp;
            }

            int running = failure is null && !complete && !suspended ? active.Count : 0;
            if (running > 0)
            {
                st["active"] = running;
            }

            st["ready"] = failure is null && !complete ? active.Count(PodStatus.IsReady) : 0;
            if (succeeded > 0)
            {
                st["succeeded"] = succeeded;
            }

            if (failed > 0)
            {
                st["failed"] = failed;
            }

            st["terminating"] = 0;
            st["uncountedTerminatedPods"] = new JsonObject();
            var conditions = new JsonArray();
            if (suspended && failure is null && !complete)
            {
                conditions.Add((JsonNode)Condition(old, "Suspended", "JobSuspended", "Job suspended", stamp));
            }

            if (failure is { } fail)
            {
                conditions.Add((JsonNode)Condition(old, "FailureTarget", fail.Reason, fail.Message, stamp));
                conditions.Add((JsonNode)Condition(old, "Failed", fail.Reason, fail.Message, stamp));
            }
            else if (complete)
            {
                conditions.Add((JsonNode)Condition(old, "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", stamp));
                conditions.Add((JsonNode)Condition(old, "Complete", "CompletionsReached", "Reached expected number of succeeded pods", stamp));
                st["completionTime"] = old?.Str("completionTime") ?? stamp;
            }
            if (conditions.Count > 0)
            {
                st["conditions"] = conditions;
            }

            o["status"] = st;
            return o;
        }, UpdateMode.Internal);
        return Task.CompletedTask;
    }

    /// <summary>True (and a reconcile scheduled) while the backoff after the last failed pod has not passed.</summary>
    private bool WaitBackoff(string key, List<StoredObject> failedPods, DateTimeOffset now)
    {
        int failed = failedPods.Count;
        if (failed == 0)
        {
            return false;
        }

        DateTimeOffset last = failedPods.Select(p => p.Root.Items("status", "containerStatuses").Select(c => c.Str("state", "terminated", "finishedAt")).Max())
            .Where(t => t is not null).Select(t => DateTimeOffset.Parse(t!, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(now).Max();
        var delay = TimeSpan.FromTicks(Math.Min(backoff.Ticks * (1L << Math.Min(failed - 1, 20)), TimeSpan.FromMinutes(6).Ticks));
        TimeSpan remaining = last + delay - now;
        if (remaining <= TimeSpan.Zero)
        {
            return false;
        }

        Later(key, remaining);
        return true;
    }

    private void Later(string key, TimeSpan delay) => _ = Task.Delay(delay, Store.Time, Stopping).ContinueWith(t =>
    {
        if (!t.IsCanceled)
        {
            Enqueue(key);
        }
    }, TaskScheduler.Default);

    private static JsonObject Condition(JsonObject? old, string type, string reason, string message, string now)
    {
        JsonObject c = DeploymentController.Condition(old, type, true, reason, message, now);
        c["lastProbeTime"] = (old?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(x => x.Str("type") == type)?.Str("lastProbeTime") ?? now;
        return c;
    }

    private void Delete(StoredObject pod)
    {
        try { Store.Delete(ResourceTypes.Pods, pod.Namespace, pod.Name, new DeleteOptions()); }
        catch (ApiException ex) when (ex.Code == 404) { }
    }
}
