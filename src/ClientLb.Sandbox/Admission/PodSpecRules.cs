using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>Defaulting and validation of a PodSpec, shared by pods and deployment templates.</summary>
internal static class PodSpecRules
{
    public static void Default(JsonObject spec, long defaultGraceSeconds)
    {
        spec["restartPolicy"] ??= "Always";
        spec["terminationGracePeriodSeconds"] ??= defaultGraceSeconds;
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        if (spec["containers"] is JsonArray containers)
        {
            foreach (JsonObject c in containers.OfType<JsonObject>())
            {
                c["imagePullPolicy"] ??= "IfNotPresent";
                if (c["ports"] is JsonArray ports)
                {
                    foreach (JsonObject p in ports.OfType<JsonObject>())
                    {
                        p["protocol"] ??= "TCP";
                    }
                }
            }
        }
    }

    public static void Validate(JsonNode? specNode, string field, List<StatusCause> causes)
    {
        if (specNode is not JsonObject spec) { causes.Add(new("FieldValueRequired", field, "Required value")); return; }
        if (spec["containers"] is not JsonArray { Count: > 0 } containers)
        {
            causes.Add(new("FieldValueRequired", $"{field}.containers", "Required value"));
            return;
        }
        var names = new HashSet<string>();
        var portNames = new HashSet<string>();
        for (int i = 0; i < containers.Count; i++)
        {
            string cf = $"{field}.containers[{i}]";
            if (containers[i] is not JsonObject c) { causes.Add(new("FieldValueInvalid", cf, "Invalid value: must be an object")); continue; }
            string? name = c.Str("name");
            if (string.IsNullOrEmpty(name))
            {
                causes.Add(new("FieldValueRequired", $"{cf}.name", "Required value"));
            }
            else if (Validation.Dns1123LabelError(name) is { } err)
            {
                causes.Add(new("FieldValueInvalid", $"{cf}.name", $"Invalid value: \"{name}\": {err}"));
            }
            else if (!names.Add(name))
            {
                causes.Add(new("FieldValueDuplicate", $"{cf}.name", $"Duplicate value: \"{name}\""));
            }

            if (string.IsNullOrEmpty(c.Str("image")))
            {
                causes.Add(new("FieldValueRequired", $"{cf}.image", "Required value"));
            }

            if (c["ports"] is not JsonArray ports)
            {
                continue;
            }

            for (int j = 0; j < ports.Count; j++)
            {
                string pf = $"{cf}.ports[{j}]";
                if (ports[j] is not JsonObject p) { causes.Add(new("FieldValueInvalid", pf, "Invalid value: must be an object")); continue; }
                long? number = Json.AsLong(p["containerPort"]) is long n ? n : (long?)null;
                if (number is null)
                {
                    causes.Add(new("FieldValueRequired", $"{pf}.containerPort", "Required value"));
                }
                else if (number is < 1 or > 65535)
                {
                    causes.Add(new("FieldValueInvalid", $"{pf}.containerPort", $"Invalid value: {number}: must be between 1 and 65535, inclusive"));
                }

                string proto = p.Str("protocol") ?? "TCP";
                if (proto is not ("TCP" or "UDP" or "SCTP"))
                {
                    causes.Add(new("FieldValueNotSupported", $"{pf}.protocol", $"Unsupported value: \"{proto}\": supported values: \"SCTP\", \"TCP\", \"UDP\""));
                }

                if (p.Str("name") is { } pn)
                {
                    if (Validation.PortNameError(pn) is { } perr)
                    {
                        causes.Add(new("FieldValueInvalid", $"{pf}.name", $"Invalid value: \"{pn}\": {perr}"));
                    }
                    else if (!portNames.Add(pn))
                    {
                        causes.Add(new("FieldValueDuplicate", $"{pf}.name", $"Duplicate value: \"{pn}\""));
                    }
                }
            }
        }
        if (Json.AsLong(spec["terminationGracePeriodSeconds"]) is long grace && grace < 0)
        {
            causes.Add(new("FieldValueInvalid", $"{field}.terminationGracePeriodSeconds", $"Invalid value: {grace}: must be greater than or equal to 0"));
        }
    }
}
