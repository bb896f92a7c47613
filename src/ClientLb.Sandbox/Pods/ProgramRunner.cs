using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Pods;

/// <summary>What one container of a run-to-completion pod is doing: running (since), or terminated (exit code, reason).</summary>
internal sealed record ContainerRunState(string Name, string Image, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, int? ExitCode, string? Reason, string? Message, int Restarts)
{
    public bool Running => StartedAt is not null && FinishedAt is null;
    public bool Succeeded => ExitCode == 0;
}

/// <summary>The containers of one run-to-completion pod, each running its image's <see cref="SandboxProgram"/>.</summary>
internal sealed class PodRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ContainerRunState[] _states;
    private readonly Lock _lock = new();

    public PodRun(IEnumerable<ContainerRunState> initial) => _states = [.. initial];

    public CancellationToken Stopping => _stop.Token;
    public Task Completion { get; set; } = Task.CompletedTask;

    public IReadOnlyList<ContainerRunState> States
    {
        get
        {
            lock (_lock)
            {
                return [.. _states];
            }
        }
    }

    public void Set(int index, ContainerRunState state)
    {
        lock (_lock)
        {
            _states[index] = state;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        // A program that ignores cancellation is left behind after a bounded wait: the pod still goes.
        try { await Completion.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
        _stop.Dispose();
    }
}

/// <summary>
/// The kubelet's part for run-to-completion pods (<c>restartPolicy</c> Never or OnFailure, as Jobs make them): runs each
/// container's image as the in-process program registered for it in <see cref="SandboxOptions.Images"/>, with the pod's
/// service account credentials and its log, and reports exit codes; an image without a program fails the container at once
/// with reason <c>ImageNotRunnable</c> naming the image. OnFailure restarts a failed container after the Job backoff.
/// </summary>
internal sealed class ProgramRunner(ObjectStore store, ILogger logger, IReadOnlyDictionary<string, SandboxProgram> images, TimeSpan backoff,
    Func<string, string, CancellationToken, Task<(string Path, bool Owned)>> kubeconfigFor, Func<System.Net.IPEndPoint?> dns)
{
    public const string ImageNotRunnable = "ImageNotRunnable";
    public const string ConfigError = "CreateContainerConfigError";

    public static bool RunsToCompletion(StoredObject pod) => pod.Root.Str("spec", "restartPolicy") is "Never" or "OnFailure";

    /// <summary>The program of an image reference: exact, then without tag or digest.</summary>
    public SandboxProgram? Find(string image)
    {
        if (images.TryGetValue(image, out SandboxProgram? exact))
        {
            return exact;
        }

        int at = image.IndexOf('@');
        string repository = at >= 0 ? image[..at] : image;
        int colon = repository.LastIndexOf(':');
        if (colon > repository.LastIndexOf('/'))
        {
            repository = repository[..colon];
        }

        return images.GetValueOrDefault(repository);
    }

    /// <summary>Starts every container of <paramref name="pod"/>; <paramref name="changed"/> is called after each state change.</summary>
    public PodRun Start(StoredObject pod, IReadOnlyList<(string Container, Logs.LogBook Book)> logs, Action changed)
    {
        var containers = pod.Root.Items("spec", "containers").ToList();
        var run = new PodRun(containers.Select(c => new ContainerRunState(c.Str("name") ?? "", c.Str("image") ?? "", null, null, null, null, null, 0)));
        bool onFailure = pod.Root.Str("spec", "restartPolicy") == "OnFailure";
        string account = pod.Root.Str("spec", "serviceAccountName") ?? "default";
        run.Completion = Task.WhenAll(containers.Select((c, i) => Task.Run(() => RunContainerAsync(pod, c, i, account, onFailure, logs[i].Book, run, changed))));
        return run;
    }

    private async Task RunContainerAsync(StoredObject pod, JsonElement spec, int index, string account, bool onFailure, Logs.LogBook book, PodRun run, Action changed)
    {
        ContainerRunState state = run.States[index];
        SandboxProgram? program = Find(state.Image);
        try
        {
            if (program is null)
            {
                Finish(128, ImageNotRunnable, $"the sandbox cannot run image \"{state.Image}\" of container \"{state.Name}\": its pods are in-process programs and none is registered for this image (SandboxOptions.Images has {(images.Count == 0 ? "none" : string.Join(", ", images.Keys.Order(StringComparer.Ordinal)))})");
                return;
            }
            IReadOnlyDictionary<string, string> env;
            (string Path, bool Owned) kubeconfig;
            try
            {
                env = Environment(pod, spec);
                kubeconfig = await kubeconfigFor(pod.Namespace, account, run.Stopping);
            }
            catch (ApiException ex)
            {
                Finish(128, ConfigError, ex.Message);
                return;
            }
            try
            {
                while (true)
                {
                    state = state with { StartedAt = store.Time.GetUtcNow(), FinishedAt = null, ExitCode = null, Reason = null, Message = null };
                    run.Set(index, state);
                    changed();
                    int exit;
                    string? message = null;
                    using (var output = TextWriter.Synchronized(new LogWriter(book)))
                    {
                        try
                        {
                            exit = await program(new SandboxContainer
                            {
                                Namespace = pod.Namespace, PodName = pod.Name, Name = state.Name, Image = state.Image,
                                Command = [.. spec.Items("command").Select(a => a.GetString() ?? "")],
                                Args = [.. spec.Items("args").Select(a => a.GetString() ?? "")],
                                Environment = env, ServiceAccountName = account, KubeconfigPath = kubeconfig.Path, DnsEndPoint = dns(), Output = output,
                            }, run.Stopping);
                        }
                        catch (OperationCanceledException) when (run.Stopping.IsCancellationRequested)
                        {
                            exit = 137; // killed, as a container stopped at its deletion
                        }
                        catch (Exception ex)
                        {
                            exit = 1;
                            message = $"the program of image \"{state.Image}\" threw {ex.GetType().Name}: {ex.Message}";
                            output.WriteLine(message);
                        }
                    }
                    if (exit == 0 || !onFailure || run.Stopping.IsCancellationRequested)
                    {
                        Finish(exit, exit == 0 ? "Completed" : "Error", message);
                        return;
                    }
                    // OnFailure: the container restarts in place after the backoff (restartCount), waiting in CrashLoopBackOff meanwhile.
                    var delay = TimeSpan.FromTicks(Math.Min(backoff.Ticks * (1L << Math.Min(state.Restarts, 20)), TimeSpan.FromMinutes(6).Ticks));
                    state = state with { StartedAt = null, FinishedAt = null, ExitCode = null, Reason = "CrashLoopBackOff", Message = $"exited with {exit}; restarting in {delay.TotalSeconds:0.###} s", Restarts = state.Restarts + 1 };
                    run.Set(index, state);
                    changed();
                    await Task.Delay(delay, store.Time, run.Stopping);
                }
            }
            finally
            {
                if (kubeconfig.Owned)
                {
                    File.Delete(kubeconfig.Path);
                }
            }
        }
        catch (OperationCanceledException) when (run.Stopping.IsCancellationRequested)
        {
            if (run.States[index].FinishedAt is null)
            {
                Finish(137, "Error", "stopped");
            }
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Container {Container} of pod {Namespace}/{Pod} failed to run", state.Name, pod.Namespace, pod.Name);
            Finish(128, "StartError", ex.Message);
        }
        finally
        {
            book.Close(); // this container is done for good: `kubectl logs -f` ends after its last line
        }

        void Finish(int exit, string reason, string? message)
        {
            DateTimeOffset now = store.Time.GetUtcNow();
            state = state with { StartedAt = state.StartedAt ?? now, FinishedAt = now, ExitCode = exit, Reason = reason, Message = message };
            run.Set(index, state);
            if (message is not null && reason is ImageNotRunnable or ConfigError)
            {
                book.Write(message);
            }

            changed();
        }
    }

    /// <summary>The container's env: values, and fieldRef/configMapKeyRef/secretKeyRef resolved; anything else is a config error naming the variable.</summary>
    private IReadOnlyDictionary<string, string> Environment(StoredObject pod, JsonElement container)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonElement e in container.Items("env"))
        {
            string name = e.Str("name") ?? "";
            if (e.Str("value") is { } value) { env[name] = value; continue; }
            if (e.Get("valueFrom") is not { } from) { env[name] = ""; continue; }
            if (from.Str("fieldRef", "fieldPath") is { } field)
            {
                env[name] = field switch
                {
                    "metadata.name" => pod.Name,
                    "metadata.namespace" => pod.Namespace,
                    "metadata.uid" => pod.Uid,
                    "spec.nodeName" => pod.Root.Str("spec", "nodeName") ?? "",
                    "spec.serviceAccountName" => pod.Root.Str("spec", "serviceAccountName") ?? "default",
                    "status.podIP" => pod.Root.Str("status", "podIP") ?? "",
                    "status.hostIP" => "127.0.0.1",
                    _ => throw new ApiException(422, ConfigError, $"env {name} of container {container.Str("name")}: the sandbox does not resolve fieldRef \"{field}\""),
                };
                continue;
            }
            (ResourceType? type, string? refName, string? key) = from.Get("configMapKeyRef") is { } cm ? (ResourceTypes.ConfigMaps, cm.Str("name"), cm.Str("key"))
                : from.Get("secretKeyRef") is { } sk ? (ResourceTypes.Secrets, sk.Str("name"), sk.Str("key"))
                : throw new ApiException(422, ConfigError, $"env {name} of container {container.Str("name")}: the sandbox resolves value, fieldRef, configMapKeyRef and secretKeyRef only");
            StoredObject source = store.Get(type, pod.Namespace, refName ?? "")
                ?? throw new ApiException(422, ConfigError, $"env {name} of container {container.Str("name")}: {type.Singular} \"{refName}\" not found");
            string data = source.Root.Str("data", key ?? "")
                ?? throw new ApiException(422, ConfigError, $"env {name} of container {container.Str("name")}: couldn't find key {key} in {type.Kind} {pod.Namespace}/{refName}");
            env[name] = type == ResourceTypes.Secrets ? Encoding.UTF8.GetString(Convert.FromBase64String(data)) : data;
        }
        return env;
    }

    /// <summary>The pod status of a run: Running while a container runs, then Succeeded when all exited 0, else Failed.</summary>
    public static JsonObject Status(JsonObject? old, IReadOnlyList<ContainerRunState> states, string ip, string now)
    {
        bool running = states.Any(s => s.FinishedAt is null);
        string phase = running ? (states.Any(s => s.StartedAt is not null || s.Restarts > 0) ? "Running" : "Pending") : states.All(s => s.Succeeded) ? "Succeeded" : "Failed";
        bool ready = running && states.All(s => s.Running);
        string notReadyReason = running ? "ContainersNotReady" : "PodCompleted";
        var status = new JsonObject
        {
            ["phase"] = phase,
            ["conditions"] = new JsonArray(
                Controllers.DeploymentController.Condition(old, "PodScheduled", true, "Scheduled", "", now),
                Controllers.DeploymentController.Condition(old, "Initialized", true, "Initialized", "", now),
                Controllers.DeploymentController.Condition(old, "ContainersReady", ready, ready ? "ContainersReady" : notReadyReason, "", now),
                Controllers.DeploymentController.Condition(old, "Ready", ready, ready ? "PodReady" : notReadyReason, "", now)),
            ["hostIP"] = "127.0.0.1",
            ["hostIPs"] = new JsonArray(new JsonObject { ["ip"] = "127.0.0.1" }),
            ["startTime"] = old?.Str("startTime") ?? now,
            ["qosClass"] = "BestEffort",
        };
        if (ip.Length > 0)
        {
            status["podIP"] = ip;
            status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip });
        }
        if (states.FirstOrDefault(s => s.Reason is ImageNotRunnable or ConfigError) is { } bad)
        {
            status["reason"] = bad.Reason;
            status["message"] = bad.Message;
        }
        var containers = new JsonArray();
        foreach (ContainerRunState s in states)
        {
            JsonObject state;
            if (s.FinishedAt is { } finished)
            {
                var terminated = new JsonObject { ["exitCode"] = s.ExitCode, ["reason"] = s.Reason, ["startedAt"] = Json.Timestamp(s.StartedAt ?? finished), ["finishedAt"] = Json.Timestamp(finished) };
                if (s.Message is not null)
                {
                    terminated["message"] = s.Message;
                }

                state = new JsonObject { ["terminated"] = terminated };
            }
            else if (s.StartedAt is { } started)
            {
                state = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = Json.Timestamp(started) } };
            }
            else
            {
                var waiting = new JsonObject { ["reason"] = s.Reason ?? "ContainerCreating" };
                if (s.Message is not null)
                {
                    waiting["message"] = s.Message;
                }

                state = new JsonObject { ["waiting"] = waiting };
            }
            containers.Add((JsonNode)new JsonObject
            {
                ["name"] = s.Name, ["image"] = s.Image, ["imageID"] = "", ["ready"] = s.Running, ["started"] = s.Running, ["restartCount"] = s.Restarts, ["state"] = state,
            });
        }
        status["containerStatuses"] = containers;
        return status;
    }

    /// <summary>Turns what a program writes into log lines (one per line; the rest when it is disposed).</summary>
    private sealed class LogWriter(Logs.LogBook book) : TextWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n')
            {
                book.Write(_line.ToString().TrimEnd('\r'));
                _line.Clear();
            }
            else
            {
                _line.Append(value);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && _line.Length > 0) { book.Write(_line.ToString()); _line.Clear(); }
            base.Dispose(disposing);
        }
    }
}
