using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>How much of each object a Table row carries (the includeObject query parameter).</summary>
internal enum IncludeObject { None, Metadata, Object }

/// <summary>
/// Server-side printing (meta.k8s.io/v1 Table), which <c>kubectl get</c> asks for: the same columns the
/// real API server prints for these resources.
/// </summary>
internal static class TableConverter
{
    private sealed record Column(string Name, string Type, string Description, int Priority = 0);

    private static readonly Column NameCol = new("Name", "string", "Name must be unique within a namespace.");
    private static readonly Column AgeCol = new("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created.");

    private static Column[] Columns(ResourceType t) => t.Kind switch
    {
        "Pod" => [NameCol, new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            new("Status", "string", "The aggregate status of the containers in this pod."),
            new("Restarts", "string", "The number of times the containers in this pod have been restarted."), AgeCol,
            new("IP", "string", "IP address allocated to the pod.", 1), new("Node", "string", "Name of the Node this pod is assigned to.", 1)],
        "Service" => [NameCol, new("Type", "string", "The type of the service."), new("Cluster-IP", "string", "The cluster IP of the service."),
            new("External-IP", "string", "The external IP of the service."), new("Port(s)", "string", "The ports of the service."), AgeCol,
            new("Selector", "string", "The label selector of the service.", 1)],
        "Deployment" => [NameCol, new("Ready", "string", "Number of the pod with ready state"), new("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            new("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."), AgeCol,
            new("Containers", "string", "Names of each container in the template.", 1), new("Images", "string", "Images referenced by each container in the template.", 1),
            new("Selector", "string", "Label selector for pods.", 1)],
        "EndpointSlice" => [NameCol, new("AddressType", "string", "The type of addresses in this slice."), new("Ports", "string", "The ports in this slice."),
            new("Endpoints", "string", "The addresses of the endpoints in this slice."), AgeCol],
        "ConfigMap" => [NameCol, new("Data", "string", "The number of keys in the map."), AgeCol],
        "Secret" => [NameCol, new("Type", "string", "The type of the secret"), new("Data", "string", "The number of keys in the secret."), AgeCol],
        "ServiceAccount" => [NameCol, new("Secrets", "string", "The number of secrets listed by the service account."), AgeCol],
        "Role" or "ClusterRole" => [NameCol, new("Created At", "date", "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.")],
        "RoleBinding" or "ClusterRoleBinding" => [NameCol, new("Role", "string", "The role this binding grants."), AgeCol,
            new("Users", "string", "Users in the roleBinding", 1), new("Groups", "string", "Groups in the roleBinding", 1), new("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1)],
        "DaemonSet" => [NameCol, new("Desired", "integer", "The desired number of pods."), new("Current", "integer", "The number of pods scheduled."),
            new("Ready", "integer", "The number of ready pods."), new("Up-to-date", "integer", "The number of pods of the current template."),
            new("Available", "integer", "The number of available pods."), new("Node Selector", "string", "The node selector of the template."), AgeCol,
            new("Containers", "string", "Names of each container in the template.", 1), new("Images", "string", "Images referenced by each container in the template.", 1),
            new("Selector", "string", "Label selector for pods.", 1)],
        "Job" => [NameCol, new("Status", "string", "Status of the job."), new("Completions", "string", "The number of pods which reached phase Succeeded."),
            new("Duration", "string", "Time required to complete the job."), AgeCol,
            new("Containers", "string", "Names of each container in the template.", 1), new("Images", "string", "Images referenced by each container in the template.", 1),
            new("Selector", "string", "A label query over pods that should match the pod count.", 1)],
        "Event" => [new("Last Seen", "string", "When the event was last seen."), new("Type", "string", "Normal or Warning."), new("Reason", "string", "Why the event happened."),
            new("Object", "string", "The object the event is about."), new("Subobject", "string", "The part of the object.", 1), new("Source", "string", "The component that reported it.", 1),
            new("Message", "string", "A human-readable description."), new("First Seen", "string", "When the event was first seen.", 1), new("Count", "string", "How often it happened.", 1),
            new("Name", "string", "The event's name.", 1)],
        "Endpoints" => [NameCol, new("Endpoints", "string", "Endpoints is the list of ready addresses of the service."), AgeCol],
        "Namespace" => [NameCol, new("Status", "string", "The status of the namespace"), AgeCol],
        "Node" => [NameCol, new("Status", "string", "The status of the node"), new("Roles", "string", "The roles of the node"), AgeCol,
            new("Version", "string", "Kubelet Version reported by the node."), new("Zone", "string", "The node's topology.kubernetes.io/zone label.", 1)],
        _ => [NameCol, AgeCol],
    };

    private static JsonNode?[] Cells(StoredObject o, DateTimeOffset now)
    {
        JsonElement r = o.Root;
        string age = Age(r.Str("metadata", "creationTimestamp"), now);
        switch (o.Type.Kind)
        {
            case "Pod":
                var statuses = r.Items("status", "containerStatuses").ToList();
                int total = r.Items("spec", "containers").Count();
                int ready = statuses.Count(s => s.Get("ready") is { ValueKind: JsonValueKind.True });
                string status = o.IsDeleting ? "Terminating" : r.Str("status", "reason") ?? r.Str("status", "phase") ?? "Unknown";
                long restarts = statuses.Sum(s => s.Int("restartCount") ?? 0);
                return [o.Name, $"{ready}/{total}", status, restarts.ToString(), age, r.Str("status", "podIP") ?? "<none>", r.Str("spec", "nodeName") ?? "<none>"];
            case "Service":
                string ports = string.Join(",", r.Items("spec", "ports").Select(p => $"{p.Int("port")}/{p.Str("protocol") ?? "TCP"}"));
                string sel = string.Join(",", r.Map("spec", "selector").Select(kv => $"{kv.Key}={kv.Value}"));
                return [o.Name, r.Str("spec", "type") ?? "ClusterIP", r.Str("spec", "clusterIP") ?? "<none>", "<none>", ports.Length == 0 ? "<none>" : ports, age, sel.Length == 0 ? "<none>" : sel];
            case "Deployment":
                var containers = r.Items("spec", "template", "spec", "containers").ToList();
                string selector = string.Join(",", r.Map("spec", "selector", "matchLabels").Select(kv => $"{kv.Key}={kv.Value}"));
                return [o.Name, $"{r.Int("status", "readyReplicas") ?? 0}/{r.Int("spec", "replicas") ?? 0}", r.Int("status", "updatedReplicas") ?? 0,
                    r.Int("status", "availableReplicas") ?? 0, age, string.Join(",", containers.Select(c => c.Str("name"))),
                    string.Join(",", containers.Select(c => c.Str("image"))), selector];
            case "EndpointSlice":
                var slicePorts = r.Items("ports").Select(p => p.Int("port")?.ToString() ?? "<unset>").ToList();
                var addresses = r.Items("endpoints").SelectMany(e => e.Items("addresses")).Select(a => a.GetString() ?? "").ToList();
                string shown = string.Join(",", addresses.Take(3)) + (addresses.Count > 3 ? $" + {addresses.Count - 3} more..." : "");
                return [o.Name, r.Str("addressType") ?? "", slicePorts.Count == 0 ? "<unset>" : string.Join(",", slicePorts), addresses.Count == 0 ? "<unset>" : shown, age];
            case "Endpoints":
                return [o.Name, EndpointsCell(r), age];
            case "ConfigMap":
                return [o.Name, r.Map("data").Count + r.Map("binaryData").Count, age];
            case "Secret":
                return [o.Name, r.Str("type") ?? "Opaque", r.Map("data").Count, age];
            case "ServiceAccount":
                return [o.Name, r.Items("secrets").Count(), age];
            case "Role" or "ClusterRole":
                return [o.Name, r.Str("metadata", "creationTimestamp")];
            case "RoleBinding" or "ClusterRoleBinding":
                string Subjects(string kind) => string.Join(", ", r.Items("subjects").Where(s => s.Str("kind") == kind)
                    .Select(s => kind == "ServiceAccount" ? $"{s.Str("namespace") ?? ""}/{s.Str("name")}" : s.Str("name")));
                return [o.Name, $"{r.Str("roleRef", "kind")}/{r.Str("roleRef", "name")}", age, Subjects("User"), Subjects("Group"), Subjects("ServiceAccount")];
            case "DaemonSet":
                var dsContainers = r.Items("spec", "template", "spec", "containers").ToList();
                string nodeSelector = string.Join(",", r.Map("spec", "template", "spec", "nodeSelector").Select(kv => $"{kv.Key}={kv.Value}"));
                return [o.Name, r.Int("status", "desiredNumberScheduled") ?? 0, r.Int("status", "currentNumberScheduled") ?? 0, r.Int("status", "numberReady") ?? 0,
                    r.Int("status", "updatedNumberScheduled") ?? 0, r.Int("status", "numberAvailable") ?? 0, nodeSelector.Length == 0 ? "<none>" : nodeSelector, age,
                    string.Join(",", dsContainers.Select(c => c.Str("name"))), string.Join(",", dsContainers.Select(c => c.Str("image"))),
                    string.Join(",", r.Map("spec", "selector", "matchLabels").Select(kv => $"{kv.Key}={kv.Value}"))];
            case "Job":
                var jobContainers = r.Items("spec", "template", "spec", "containers").ToList();
                return [o.Name, JobStatus(o), JobCompletions(r), JobDuration(r, now), age, string.Join(",", jobContainers.Select(c => c.Str("name"))),
                    string.Join(",", jobContainers.Select(c => c.Str("image"))), string.Join(",", r.Map("spec", "selector", "matchLabels").Select(kv => $"{kv.Key}={kv.Value}"))];
            case "Event":
                JsonElement? involved = r.Get("involvedObject");
                return [Age(r.Str("lastTimestamp") ?? r.Str("eventTime") ?? r.Str("metadata", "creationTimestamp"), now), r.Str("type") ?? "", r.Str("reason") ?? "",
                    $"{involved?.Str("kind")?.ToLowerInvariant()}/{involved?.Str("name")}", involved?.Str("fieldPath") ?? "", r.Str("source", "component") ?? r.Str("reportingComponent") ?? "",
                    r.Str("message") ?? "", Age(r.Str("firstTimestamp") ?? r.Str("metadata", "creationTimestamp"), now), (r.Int("count") ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture), o.Name];
            case "Namespace":
                return [o.Name, r.Str("status", "phase") ?? "Active", age];
            case "Node":
                bool nodeReady = r.Items("status", "conditions").Any(c => c.Str("type") == "Ready" && c.Str("status") == "True");
                return [o.Name, nodeReady ? "Ready" : "NotReady", "<none>", age, r.Str("status", "nodeInfo", "kubeletVersion") ?? "", r.Str("metadata", "labels", "topology.kubernetes.io/zone") ?? "<none>"];
            default:
                return [o.Name, age];
        }
    }

    /// <summary>The Job's Status column, in the printer's order of precedence.</summary>
    private static string JobStatus(StoredObject o)
    {
        bool Has(string type) => o.Root.Items("status", "conditions").Any(c => c.Str("type") == type && c.Str("status") == "True");
        if (Has("Complete"))
        {
            return "Complete";
        }

        if (Has("Failed"))
        {
            return "Failed";
        }

        if (o.IsDeleting)
        {
            return "Terminating";
        }

        if (Has("FailureTarget"))
        {
            return "FailureTarget";
        }

        if (Has("SuccessCriteriaMet"))
        {
            return "SuccessCriteriaMet";
        }

        if (Has("Suspended"))
        {
            return "Suspended";
        }

        return "Running";
    }

    private static string JobCompletions(JsonElement r)
    {
        long succeeded = r.Int("status", "succeeded") ?? 0;
        if (r.Int("spec", "completions") is { } completions)
        {
            return $"{succeeded}/{completions}";
        }

        long parallelism = r.Int("spec", "parallelism") ?? 0;
        return parallelism > 1 ? $"{succeeded}/1 of {parallelism}" : $"{succeeded}/1";
    }

    private static string JobDuration(JsonElement r, DateTimeOffset now)
    {
        static DateTimeOffset? At(string? s) => DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset t) ? t : null;
        if (At(r.Str("status", "startTime")) is not { } start)
        {
            return "";
        }

        return Human((At(r.Str("status", "completionTime")) ?? now) - start);
    }

    /// <summary>kubectl's endpoints column: ready ip:port pairs, subset by subset and port by port, three at most then "+ N more...".</summary>
    private static string EndpointsCell(JsonElement r)
    {
        const int max = 3;
        var list = new List<string>();
        int count = 0;
        foreach (JsonElement subset in r.Items("subsets"))
        {
            var addresses = subset.Items("addresses").Select(a => a.Str("ip") ?? "").ToList();
            var ports = subset.Items("ports").Select(p => p.Int("port")).ToList();
            if (ports.Count == 0) { count += addresses.Count; list.AddRange(addresses.Take(max - list.Count)); continue; }
            foreach (long? port in ports)
            {
                count += addresses.Count;
                list.AddRange(addresses.Take(max - list.Count).Select(a => $"{a}:{port}"));
            }
        }
        if (list.Count == 0)
        {
            return "<none>";
        }

        return string.Join(",", list) + (count > max ? $" + {count - max} more..." : "");
    }

    /// <summary>Kubernetes' short human durations: 45s, 3m20s, 15m, 5h, 3d.</summary>
    public static string Age(string? created, DateTimeOffset now)
    {
        if (!DateTimeOffset.TryParse(created, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset t))
        {
            return "<unknown>";
        }

        return Human(now - t);
    }

    private static string Human(TimeSpan d)
    {
        if (d < TimeSpan.Zero)
        {
            d = TimeSpan.Zero;
        }

        if (d.TotalSeconds < 120)
        {
            return $"{(int)d.TotalSeconds}s";
        }

        if (d.TotalMinutes < 10)
        {
            return d.Seconds == 0 ? $"{(int)d.TotalMinutes}m" : $"{(int)d.TotalMinutes}m{d.Seconds}s";
        }

        if (d.TotalHours < 3)
        {
            return $"{(int)d.TotalMinutes}m";
        }

        if (d.TotalHours < 48)
        {
            return $"{(int)d.TotalHours}h";
        }

        return $"{(int)d.TotalDays}d";
    }

    public static JsonObject ToTable(ResourceType t, IEnumerable<StoredObject> items, IncludeObject include, DateTimeOffset now, long? resourceVersion, string? continueToken, bool withColumns = true)
    {
        var rows = new JsonArray();
        foreach (StoredObject o in items)
        {
            var row = new JsonObject { ["cells"] = Json.Array(Cells(o, now).Select(c => c is null ? null : c.DeepClone())) };
            if (include != IncludeObject.None)
            {
                row["object"] = include == IncludeObject.Object ? o.ToMutable() : PartialMetadata(o);
            }

            rows.Add((JsonNode)row);
        }
        var meta = new JsonObject();
        if (resourceVersion is not null)
        {
            meta["resourceVersion"] = resourceVersion.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (continueToken is not null)
        {
            meta["continue"] = continueToken;
        }

        var table = new JsonObject { ["kind"] = "Table", ["apiVersion"] = "meta.k8s.io/v1", ["metadata"] = meta };
        table["columnDefinitions"] = withColumns
            ? Json.Array(Columns(t).Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["type"] = c.Type, ["format"] = c.Name == "Name" ? "name" : "", ["description"] = c.Description, ["priority"] = c.Priority }))
            : null;
        table["rows"] = rows;
        return table;
    }

    public static JsonObject PartialMetadata(StoredObject o) => new()
    {
        ["kind"] = "PartialObjectMetadata",
        ["apiVersion"] = "meta.k8s.io/v1",
        ["metadata"] = JsonNode.Parse(o.Root.Get("metadata")!.Value.GetRawText()),
    };
}
