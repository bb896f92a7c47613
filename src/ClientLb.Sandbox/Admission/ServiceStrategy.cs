using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>
/// Services: ClusterIP allocation from the (loopback) service CIDR, headless (<c>clusterIP: None</c>),
/// selectorless, port defaulting (targetPort = port) and validation.
/// </summary>
internal sealed class ServiceStrategy(IpAllocator serviceIps) : DefaultStrategy
{
    private static readonly ResourceType T = ResourceTypes.Services;

    public override void PrepareForCreate(JsonObject obj, ObjectStore store)
    {
        var spec = obj["spec"] as JsonObject;
        if (spec is null)
        {
            ThrowIfAny(T, obj, [Required("spec")]);
        }

        Default(spec!);
        List<StatusCause> causes = Validate(spec!);
        string? ip = spec!.Str("clusterIP");
        if (!string.IsNullOrEmpty(ip) && ip != "None" && causes.Count == 0 && !serviceIps.Reserve(ip))
        {
            causes.Add(serviceIps.Contains(ip)
                ? InvalidValue("spec.clusterIPs", new JsonArray(ip), $"failed to allocate IP {ip}: provided IP is already allocated")
                : InvalidValue("spec.clusterIPs", new JsonArray(ip), $"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {serviceIps.Cidr}"));
        }

        ThrowIfAny(T, obj, causes);
        if (string.IsNullOrEmpty(ip))
        {
            ip = serviceIps.Allocate() ?? throw new ApiException(500, "InternalError", $"failed to allocate a serviceIP: range {serviceIps.Cidr} is full");
            spec!["clusterIP"] = ip;
        }
        spec!["clusterIPs"] = new JsonArray(ip);
        obj["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() };
    }

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        if (mode == UpdateMode.Status)
        {
            return;
        }

        if (obj["spec"] is not JsonObject spec) { ThrowIfAny(T, obj, [Required("spec")]); return; }
        string? oldIp = old.Root.Str("spec", "clusterIP");
        // Like the API server, an update that leaves clusterIP unset keeps the allocated one.
        if (string.IsNullOrEmpty(spec.Str("clusterIP")))
        {
            spec["clusterIP"] = oldIp;
        }

        if (spec["clusterIPs"] is null)
        {
            spec["clusterIPs"] = new JsonArray(oldIp);
        }

        Default(spec);
        List<StatusCause> causes = Validate(spec);
        if (spec.Str("clusterIP") != oldIp)
        {
            causes.Add(Immutable("spec.clusterIPs[0]", spec.Str("clusterIP")));
        }

        ThrowIfAny(T, obj, causes);
    }

    public override void OnRemoved(StoredObject obj)
    {
        if (obj.Root.Str("spec", "clusterIP") is { } ip && ip != "None")
        {
            serviceIps.Release(ip);
        }
    }

    private static void Default(JsonObject spec)
    {
        spec["type"] ??= "ClusterIP";
        spec["sessionAffinity"] ??= "None";
        spec["ipFamilies"] ??= new JsonArray("IPv4");
        spec["ipFamilyPolicy"] ??= "SingleStack";
        spec["internalTrafficPolicy"] ??= "Cluster";
        if (spec.Str("sessionAffinity") == "ClientIP")
        {
            spec["sessionAffinityConfig"] ??= new JsonObject { ["clientIP"] = new JsonObject { ["timeoutSeconds"] = 10800 } };
        }

        if (spec["ports"] is JsonArray ports)
        {
            foreach (JsonObject p in ports.OfType<JsonObject>())
            {
                p["protocol"] ??= "TCP";
                if (p["targetPort"] is null && p["port"] is not null)
                {
                    p["targetPort"] = p["port"]!.DeepClone();
                }
            }
        }
    }

    private List<StatusCause> Validate(JsonObject spec)
    {
        var causes = new List<StatusCause>();
        string? type = spec.Str("type");
        if (type != "ClusterIP")
        {
            causes.Add(Unsupported("spec.type", type, "ClusterIP"));
        }

        string? ip = spec.Str("clusterIP");
        bool headless = ip == "None";
        if (!string.IsNullOrEmpty(ip) && !headless && Validation.IpError(ip) is { } ipError)
        {
            causes.Add(InvalidValue("spec.clusterIPs[0]", ip, ipError));
        }

        string? affinity = spec.Str("sessionAffinity");
        if (affinity is not ("None" or "ClientIP"))
        {
            causes.Add(Unsupported("spec.sessionAffinity", affinity, "ClientIP", "None"));
        }

        if (spec["selector"] is JsonObject selector)
        {
            foreach ((string? k, JsonNode? v) in selector)
            {
                if (Validation.LabelKeyError(k) is { } ke)
                {
                    causes.Add(InvalidValue("spec.selector", k, ke));
                }

                string? value = v is JsonValue jv && jv.TryGetValue<string>(out string? s) ? s : null;
                if (value is null || Validation.LabelValueError(value) is not null)
                {
                    causes.Add(InvalidValue("spec.selector", v?.ToJsonString(), "a valid label value must be a string of at most 63 alphanumeric characters, '-', '_' or '.'"));
                }
            }
        }
        else if (spec["selector"] is not null)
        {
            causes.Add(InvalidValue("spec.selector", spec["selector"], "must be a map of label key to value"));
        }

        var ports = spec["ports"] as JsonArray;
        if (ports is null or { Count: 0 })
        {
            if (!headless)
            {
                causes.Add(Required("spec.ports"));
            }

            return causes;
        }
        var names = new HashSet<string>();
        var seen = new HashSet<string>();
        for (int i = 0; i < ports.Count; i++)
        {
            string f = $"spec.ports[{i}]";
            if (ports[i] is not JsonObject p) { causes.Add(InvalidValue(f, ports[i], "must be an object")); continue; }
            string? name = p.Str("name");
            if (ports.Count > 1 && string.IsNullOrEmpty(name))
            {
                causes.Add(Required($"{f}.name"));
            }
            else if (!string.IsNullOrEmpty(name))
            {
                if (Validation.Dns1123LabelError(name) is { } ne)
                {
                    causes.Add(InvalidValue($"{f}.name", name, ne));
                }
                else if (!names.Add(name))
                {
                    causes.Add(new("FieldValueDuplicate", $"{f}.name", $"Duplicate value: \"{name}\""));
                }
            }
            long? port = Json.AsLong(p["port"]) is long pn ? pn : (long?)null;
            if (port is null)
            {
                causes.Add(Required($"{f}.port"));
            }
            else if (port is < 1 or > 65535)
            {
                causes.Add(InvalidValue($"{f}.port", port, "must be between 1 and 65535, inclusive"));
            }

            string? proto = p.Str("protocol");
            if (proto is not ("TCP" or "UDP" or "SCTP"))
            {
                causes.Add(Unsupported($"{f}.protocol", proto, "SCTP", "TCP", "UDP"));
            }
            else if (port is not null && !seen.Add($"{proto}/{port}"))
            {
                causes.Add(new("FieldValueDuplicate", $"{f}", $"Duplicate value: port {port}/{proto}"));
            }

            switch (p["targetPort"])
            {
                case JsonValue tv when Json.AsLong(tv) is long tn:
                    if (tn is < 1 or > 65535)
                    {
                        causes.Add(InvalidValue($"{f}.targetPort", tn, "must be between 1 and 65535, inclusive"));
                    }

                    break;
                case JsonValue tv when tv.TryGetValue<string>(out string? ts):
                    if (Validation.PortNameError(ts) is { } te)
                    {
                        causes.Add(InvalidValue($"{f}.targetPort", ts, te));
                    }

                    break;
                case null: break;
                case var other: causes.Add(InvalidValue($"{f}.targetPort", other, "must be a port number or a port name")); break;
            }
        }
        return causes;
    }
}
