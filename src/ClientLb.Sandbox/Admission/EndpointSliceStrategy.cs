using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>discovery.k8s.io/v1 EndpointSlices: addressType, addresses, ports and limits as the API server checks them.</summary>
internal sealed class EndpointSliceStrategy : DefaultStrategy
{
    private static readonly ResourceType T = ResourceTypes.EndpointSlices;
    private const int MaxEndpoints = 1000;
    private const int MaxPorts = 20000;

    public override void PrepareForCreate(JsonObject obj, ObjectStore store) => Check(obj, null);

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store) => Check(obj, old);

    private static void Check(JsonObject obj, StoredObject? old)
    {
        var causes = new List<StatusCause>();
        string? addressType = obj.Str("addressType");
        if (string.IsNullOrEmpty(addressType))
        {
            causes.Add(Required("addressType"));
        }
        else if (addressType is not ("IPv4" or "IPv6" or "FQDN"))
        {
            causes.Add(Unsupported("addressType", addressType, "FQDN", "IPv4", "IPv6"));
        }
        else if (old is not null && old.Root.Str("addressType") != addressType)
        {
            causes.Add(Immutable("addressType", addressType));
        }

        obj["endpoints"] ??= new JsonArray();
        if (obj["endpoints"] is not JsonArray endpoints) { causes.Add(InvalidValue("endpoints", obj["endpoints"], "must be a list")); ThrowIfAny(T, obj, causes); return; }
        if (endpoints.Count > MaxEndpoints)
        {
            causes.Add(new("FieldValueTooMany", "endpoints", $"Too many: {endpoints.Count}: must have at most {MaxEndpoints} items"));
        }

        for (int i = 0; i < endpoints.Count; i++)
        {
            string f = $"endpoints[{i}]";
            if (endpoints[i] is not JsonObject e) { causes.Add(InvalidValue(f, endpoints[i], "must be an object")); continue; }
            if (e["addresses"] is not JsonArray { Count: >= 1 and <= 100 } addresses)
            {
                causes.Add(new("FieldValueRequired", $"{f}.addresses", "Required value: must contain at least 1 address and at most 100"));
                continue;
            }
            for (int j = 0; j < addresses.Count; j++)
            {
                string? a = addresses[j] is JsonValue av && av.TryGetValue<string>(out string? s) ? s : null;
                string? error = a is null ? $"must be a valid {addressType} address" : addressType switch
                {
                    // Canonical text only, as the API server's strict IP validation: 010.0.0.1 or 2001:DB8::1 is refused.
                    "IPv4" => Validation.IpError(a, AddressFamily.InterNetwork),
                    "IPv6" => Validation.IpError(a, AddressFamily.InterNetworkV6),
                    _ => Validation.NameError(NameRule.Dns1123Subdomain, a) is null ? null : $"must be a valid {addressType} address",
                };
                if (error is not null)
                {
                    causes.Add(InvalidValue($"{f}.addresses[{j}]", addresses[j], error));
                }
            }
            if (e["conditions"] is JsonObject conditions)
            {
                foreach (string? c in new[] { "ready", "serving", "terminating" })
                {
                    if (conditions[c] is { } cv && cv.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False or System.Text.Json.JsonValueKind.Null))
                    {
                        causes.Add(InvalidValue($"{f}.conditions.{c}", cv, "must be a boolean"));
                    }
                }
            }
        }
        if (obj["ports"] is JsonArray ports)
        {
            if (ports.Count > MaxPorts)
            {
                causes.Add(new("FieldValueTooMany", "ports", $"Too many: {ports.Count}: must have at most 100 items"));
            }

            var names = new HashSet<string>();
            for (int i = 0; i < ports.Count; i++)
            {
                if (ports[i] is not JsonObject p) { causes.Add(InvalidValue($"ports[{i}]", ports[i], "must be an object")); continue; }
                p["protocol"] ??= "TCP";
                string name = p.Str("name") ?? "";
                if (name.Length > 0 && Validation.Dns1123LabelError(name) is { } ne)
                {
                    causes.Add(InvalidValue($"ports[{i}].name", name, ne));
                }
                else if (!names.Add(name))
                {
                    causes.Add(new("FieldValueDuplicate", $"ports[{i}].name", $"Duplicate value: \"{name}\""));
                }

                if (p["port"] is JsonValue pv && (Json.AsLong(pv) is not long pn || pn is < 1 or > 65535))
                {
                    causes.Add(InvalidValue($"ports[{i}].port", pv, "must be between 1 and 65535, inclusive"));
                }

                if (p.Str("protocol") is not ("TCP" or "UDP" or "SCTP"))
                {
                    causes.Add(Unsupported($"ports[{i}].protocol", p.Str("protocol"), "SCTP", "TCP", "UDP"));
                }
            }
        }
        ThrowIfAny(T, obj, causes);
    }
}
