using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>Roles and ClusterRoles: every rule names verbs, and either API groups with resources or (cluster-wide only) non-resource URLs.</summary>
internal sealed class RoleStrategy(ResourceType type) : DefaultStrategy
{
    public override void PrepareForCreate(JsonObject obj, ObjectStore store) => ThrowIfAny(type, obj, Validate(obj));

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store) => ThrowIfAny(type, obj, Validate(obj));

    private List<StatusCause> Validate(JsonObject obj)
    {
        var causes = new List<StatusCause>();
        if (obj["rules"] is null)
        {
            return causes;
        }

        if (obj["rules"] is not JsonArray rules) { causes.Add(InvalidValue("rules", obj["rules"], "must be a list of rules")); return causes; }
        for (int i = 0; i < rules.Count; i++)
        {
            string f = $"rules[{i}]";
            if (rules[i] is not JsonObject rule) { causes.Add(InvalidValue(f, rules[i], "must be an object")); continue; }
            int Count(string field) => rule[field] is JsonArray a ? a.Count : 0;
            foreach (string? field in new[] { "verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs" })
            {
                if (rule[field] is not null and not JsonArray || (rule[field] as JsonArray)?.Any(v => v is not JsonValue sv || !sv.TryGetValue<string>(out _)) == true)
                {
                    causes.Add(InvalidValue($"{f}.{field}", rule[field], "must be a list of strings"));
                }
            }

            if (Count("verbs") == 0)
            {
                causes.Add(new("FieldValueRequired", $"{f}.verbs", "Required value: verbs must contain at least one value"));
            }

            if (Count("nonResourceURLs") > 0)
            {
                if (type.Namespaced)
                {
                    causes.Add(InvalidValue($"{f}.nonResourceURLs", rule["nonResourceURLs"], "namespaced rules cannot apply to non-resource URLs"));
                }

                if (Count("apiGroups") > 0 || Count("resources") > 0)
                {
                    causes.Add(InvalidValue($"{f}.nonResourceURLs", rule["nonResourceURLs"], "rules cannot apply to both regular resources and non-resource URLs"));
                }

                continue;
            }
            if (Count("apiGroups") == 0)
            {
                causes.Add(new("FieldValueRequired", $"{f}.apiGroups", "Required value: resource rules must supply at least one api group"));
            }

            if (Count("resources") == 0)
            {
                causes.Add(new("FieldValueRequired", $"{f}.resources", "Required value: resource rules must supply at least one resource"));
            }
        }
        return causes;
    }
}

/// <summary>RoleBindings and ClusterRoleBindings: a valid, immutable roleRef and well-formed subjects.</summary>
internal sealed class BindingStrategy(ResourceType type) : DefaultStrategy
{
    public const string RbacGroup = "rbac.authorization.k8s.io";

    public override void PrepareForCreate(JsonObject obj, ObjectStore store) => ThrowIfAny(type, obj, Validate(obj));

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        List<StatusCause> causes = Validate(obj);
        if (!Json.DeepEquals(obj["roleRef"], old.ToMutable()["roleRef"]))
        {
            causes.Add(InvalidValue("roleRef", obj["roleRef"], "cannot change roleRef"));
        }

        ThrowIfAny(type, obj, causes);
    }

    private List<StatusCause> Validate(JsonObject obj)
    {
        var causes = new List<StatusCause>();
        if (obj["roleRef"] is not JsonObject roleRef) { causes.Add(Required("roleRef")); }
        else
        {
            if (roleRef.Str("apiGroup") != RbacGroup)
            {
                causes.Add(Unsupported("roleRef.apiGroup", roleRef.Str("apiGroup") ?? "", RbacGroup));
            }

            string[] kinds = type.Namespaced ? ["ClusterRole", "Role"] : ["ClusterRole"];
            if (!kinds.Contains(roleRef.Str("kind")))
            {
                causes.Add(Unsupported("roleRef.kind", roleRef.Str("kind") ?? "", kinds));
            }

            string? name = roleRef.Str("name");
            if (string.IsNullOrEmpty(name))
            {
                causes.Add(Required("roleRef.name"));
            }
            else if (Validation.NameError(NameRule.PathSegment, name) is { } err)
            {
                causes.Add(InvalidValue("roleRef.name", name, err));
            }
        }
        if (obj["subjects"] is JsonArray subjects)
        {
            for (int i = 0; i < subjects.Count; i++)
            {
                string f = $"subjects[{i}]";
                if (subjects[i] is not JsonObject s) { causes.Add(InvalidValue(f, subjects[i], "must be an object")); continue; }
                string? name = s.Str("name");
                if (string.IsNullOrEmpty(name))
                {
                    causes.Add(Required($"{f}.name"));
                }

                switch (s.Str("kind"))
                {
                    case "ServiceAccount":
                        if (!string.IsNullOrEmpty(s.Str("apiGroup")))
                        {
                            causes.Add(Unsupported($"{f}.apiGroup", s.Str("apiGroup"), ""));
                        }

                        if (!string.IsNullOrEmpty(name) && Validation.NameError(NameRule.Dns1123Subdomain, name) is { } nameErr)
                        {
                            causes.Add(InvalidValue($"{f}.name", name, nameErr));
                        }

                        if (!type.Namespaced && string.IsNullOrEmpty(s.Str("namespace")))
                        {
                            causes.Add(Required($"{f}.namespace"));
                        }

                        break;
                    case "User" or "Group":
                        if (s.Str("apiGroup") != RbacGroup)
                        {
                            causes.Add(Unsupported($"{f}.apiGroup", s.Str("apiGroup") ?? "", RbacGroup));
                        }

                        break;
                    default:
                        causes.Add(Unsupported($"{f}.kind", s.Str("kind") ?? "", "ServiceAccount", "User", "Group"));
                        break;
                }
            }
        }
        else if (obj["subjects"] is not null)
        {
            causes.Add(InvalidValue("subjects", obj["subjects"], "must be a list of subjects"));
        }

        return causes;
    }
}
