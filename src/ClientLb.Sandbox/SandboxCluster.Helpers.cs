using System.Text.Json.Nodes;
using ClientLb.Sandbox.Controllers;
using ClientLb.Sandbox.Manifests;
using ClientLb.Sandbox.Pods;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox;

public sealed partial class SandboxCluster
{
    private static T Call<T>(Func<T> action)
    {
        try { return action(); }
        catch (ApiException ex) { throw new SandboxApiException(ex.Code, ex.Reason, ex.Message, ex); }
    }

    private static ResourceType TypeOf(string apiVersion, string kind) =>
        ResourceTypes.ByKind(apiVersion, kind)
        ?? throw new SandboxApiException(404, "NotFound", $"the sandbox does not serve kind \"{kind}\" in version \"{apiVersion}\" (served: {string.Join(", ", ResourceTypes.All.Select(t => $"{t.ApiVersion}/{t.Kind}"))})");

    /// <summary>
    /// Applies a YAML manifest (one or more documents): creates each object, or replaces the existing object of
    /// the same kind and name. Returns the stored objects.
    /// </summary>
    public Task<IReadOnlyList<JsonObject>> ApplyManifestAsync(string yaml, string defaultNamespace = "default")
    {
        ArgumentNullException.ThrowIfNull(yaml);
        List<JsonObject> docs = YamlManifest.Parse(yaml);
        var result = new List<JsonObject>();
        foreach (JsonObject doc in docs)
        {
            result.Add(Apply(doc, defaultNamespace));
        }

        return Task.FromResult<IReadOnlyList<JsonObject>>(result);
    }

    private JsonObject Apply(JsonObject obj, string defaultNamespace)
    {
        string apiVersion = obj.Str("apiVersion") ?? throw new SandboxApiException(400, "BadRequest", "a manifest object has no apiVersion");
        string kind = obj.Str("kind") ?? throw new SandboxApiException(400, "BadRequest", "a manifest object has no kind");
        ResourceType t = TypeOf(apiVersion, kind);
        string? ns = t.Namespaced ? obj.Str("metadata", "namespace") ?? defaultNamespace : null;
        string? name = obj.Str("metadata", "name");
        return Call(() =>
        {
            if (name is not null && _store.Get(t, ns, name) is not null)
            {
                obj.Metadata().Remove("resourceVersion");
                return _store.Update(t, ns, name, obj, UpdateMode.Main).ToMutable();
            }
            return _store.Create(t, ns, obj).ToMutable();
        });
    }

    /// <summary>Creates any served object (apiVersion and kind taken from the object).</summary>
    public Task<JsonObject> CreateAsync(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ResourceType t = TypeOf(obj.Str("apiVersion") ?? "", obj.Str("kind") ?? "");
        return Task.FromResult(Call(() => _store.Create(t, obj.Str("metadata", "namespace"), obj).ToMutable()));
    }

    /// <summary>Reads one object, or null when it does not exist.</summary>
    public Task<JsonObject?> GetAsync(string apiVersion, string kind, string name, string? ns = "default") =>
        Task.FromResult(_store.Get(TypeOf(apiVersion, kind), ns, name)?.ToMutable());

    /// <summary>Lists objects of a kind, in one namespace (or all with null), filtered by a label selector.</summary>
    public Task<IReadOnlyList<JsonObject>> ListAsync(string apiVersion, string kind, string? ns = "default", string? labelSelector = null)
    {
        ResourceType t = TypeOf(apiVersion, kind);
        LabelSelector sel = Call(() => LabelSelector.Parse(labelSelector));
        IReadOnlyList<JsonObject> items = _store.Snapshot(t, ns, o => sel.Matches(o.Labels)).Select(o => o.ToMutable()).ToList();
        return Task.FromResult(items);
    }

    /// <summary>Deletes an object; pods are terminating for their grace period (override with <paramref name="gracePeriod"/>).</summary>
    public Task DeleteAsync(string apiVersion, string kind, string name, string? ns = "default", TimeSpan? gracePeriod = null)
    {
        ResourceType t = TypeOf(apiVersion, kind);
        Call(() => _store.Delete(t, ns, name, new DeleteOptions(gracePeriod is { } g ? (long)Math.Ceiling(g.TotalSeconds) : null)));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Creates a deployment of <paramref name="replicas"/> pods labelled app=<paramref name="name"/>, each serving
    /// its pod name over HTTP on <paramref name="containerPort"/> (named "http").
    /// </summary>
    public Task<JsonObject> CreateDeploymentAsync(string name, int replicas, int containerPort = 8080, string ns = "default")
    {
        var labels = new JsonObject { ["app"] = name };
        var deployment = new JsonObject
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "Deployment",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = labels.DeepClone() },
            ["spec"] = new JsonObject
            {
                ["replicas"] = replicas,
                ["selector"] = new JsonObject { ["matchLabels"] = labels.DeepClone() },
                ["template"] = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone() },
                    ["spec"] = new JsonObject
                    {
                        ["containers"] = new JsonArray(new JsonObject
                        {
                            ["name"] = "app",
                            ["image"] = "clientlb/sandbox-echo:latest",
                            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["containerPort"] = containerPort }),
                        }),
                    },
                },
            },
        };
        return CreateAsync(deployment);
    }

    /// <summary>Creates a ClusterIP service (or headless with <paramref name="headless"/>) selecting app=<paramref name="app"/>.</summary>
    public Task<JsonObject> CreateServiceAsync(string name, string app, int port = 80, int? targetPort = null, string ns = "default", bool headless = false)
    {
        var spec = new JsonObject
        {
            ["selector"] = new JsonObject { ["app"] = app },
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = port, ["targetPort"] = targetPort ?? port }),
        };
        if (headless)
        {
            spec["clusterIP"] = "None";
        }

        return CreateAsync(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = spec,
        });
    }

    /// <summary>Sets a deployment's replicas, as the scale subresource does.</summary>
    public Task ScaleDeploymentAsync(string name, int replicas, string ns = "default")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        Call(() => _store.Mutate(ResourceTypes.Deployments, ns, name, d => { d.Obj("spec")["replicas"] = replicas; return d; }, UpdateMode.Main));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Flips a pod's readiness (its Ready condition and hence its endpoint's ready/serving conditions). Works by the
    /// sandbox.clientlb.io/ready annotation, which <c>kubectl annotate</c> can set too.
    /// </summary>
    public Task SetPodReadyAsync(string podName, bool ready, string ns = "default")
    {
        Call(() => _store.Mutate(ResourceTypes.Pods, ns, podName, p => { p.Metadata().Obj("annotations")[PodRuntime.ReadyAnnotation] = ready ? "true" : "false"; return p; }, UpdateMode.Main));
        return Task.CompletedTask;
    }

    /// <summary>Deletes a pod: it keeps serving, terminating, for its grace period (or <paramref name="gracePeriod"/>), then stops.</summary>
    public Task DeletePodAsync(string podName, string ns = "default", TimeSpan? gracePeriod = null) =>
        DeleteAsync("v1", "Pod", podName, ns, gracePeriod);

    /// <summary>The pods in a namespace (null: all), optionally filtered by a label selector, in name order.</summary>
    public IReadOnlyList<SandboxPod> GetPods(string? labelSelector = null, string? ns = "default")
    {
        LabelSelector sel = Call(() => LabelSelector.Parse(labelSelector));
        return _store.Snapshot(ResourceTypes.Pods, ns, p => sel.Matches(p.Labels)).Select(p => new SandboxPod(
            p.Namespace, p.Name, p.Root.Str("status", "podIP"), p.Root.Str("spec", "nodeName"), PodStatus.IsReady(p), p.IsDeleting,
            p.Root.Items("spec", "containers").SelectMany(c => c.Items("ports")).Where(x => (x.Str("protocol") ?? "TCP") == "TCP")
                .Select(x => (int)(x.Int("containerPort") ?? 0)).Where(x => x > 0).Distinct().ToList())).ToList();
    }

    /// <summary>
    /// Completes once <paramref name="condition"/> holds, re-checking after every change in the cluster (no polling,
    /// no sleeping). Use the token for a deadline.
    /// </summary>
    public async Task WaitUntilAsync(Func<SandboxCluster, bool> condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        while (true)
        {
            Task next = _store.NextChange;
            if (condition(this))
            {
                return;
            }

            await next.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Counts the endpoints of a service (over all its EndpointSlices) whose ready condition is true.</summary>
    public int CountReadyEndpoints(string service, string ns = "default") =>
        _store.Snapshot(ResourceTypes.EndpointSlices, ns, s => s.Labels.GetValueOrDefault(EndpointSliceController.ServiceNameLabel) == service)
            .SelectMany(s => s.Root.Items("endpoints"))
            .Count(e => e.Get("conditions", "ready") is not { ValueKind: System.Text.Json.JsonValueKind.False });

    /// <summary>
    /// Waits until the service has exactly <paramref name="count"/> ready endpoints and, when the service proxy runs, until
    /// the proxy forwards the service's ClusterIP ports to the endpoints its slices list now (it follows them on its own worker).
    /// </summary>
    public async Task WaitForReadyEndpointsAsync(string service, int count, string ns = "default", CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task next = _store.NextChange;
            Task proxied = _serviceProxy?.NextReconcile ?? next;
            if (CountReadyEndpoints(service, ns) == count && (_serviceProxy is null || _serviceProxy.IsApplied(ns, service)))
            {
                return;
            }

            await Task.WhenAny(next, proxied).WaitAsync(cancellationToken);
        }
    }

    // ---- fault injection ----

    /// <summary>Ends every open client watch now, as an API server restart would; clients must re-watch.</summary>
    public int DropWatches() => _store.CloseClientWatches();

    /// <summary>Forgets the watch history: watches from any older resourceVersion get 410 Expired.</summary>
    public void CompactHistory() => _store.Compact();

    /// <summary>Fault injection: holds back every watch event (they queue, in order) until <see cref="ResumeWatchDelivery"/>.</summary>
    public void PauseWatchDelivery() => _watchGate.Pause();

    /// <summary>Fault injection: releases the events queued by <see cref="PauseWatchDelivery"/>, in order.</summary>
    public void ResumeWatchDelivery() => _watchGate.Resume();

    /// <summary>Fault injection: delays every watch event by <paramref name="delay"/> (on the cluster's TimeProvider); zero turns it off.</summary>
    public void DelayWatchDelivery(TimeSpan delay) => _watchGate.Delay = delay;

    /// <summary>Makes the next <paramref name="count"/> API requests fail with <paramref name="statusCode"/> (429 or 5xx).</summary>
    public void FailNextRequests(int count, int statusCode = 500) =>
        (_api ?? throw new ObjectDisposedException(nameof(SandboxCluster))).FailNextRequests(count, statusCode);
}
