using System.Text.Json;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Security;

/// <summary>What a request asks to do, in RBAC's terms.</summary>
internal sealed record RequestAttributes(string Verb, string ApiGroup, string Resource, string Subresource, string Namespace, string Name, string? Path)
{
    public bool IsResourceRequest => Path is null;
}

/// <summary>
/// RBAC over the Roles, ClusterRoles and bindings stored in the sandbox, with upstream's matching rules (verbs, apiGroups,
/// resources with <c>resource/subresource</c> and <c>*/subresource</c>, resourceNames, nonResourceURLs with a trailing <c>*</c>)
/// and what every authenticated user may do (discovery, version, health, self access reviews).
/// </summary>
internal sealed class RbacAuthorizer(ObjectStore store)
{
    static readonly string[] PublicPaths = ["/api", "/api/*", "/apis", "/apis/*", "/version", "/version/", "/openapi", "/openapi/*", "/healthz", "/livez", "/readyz"];

    /// <summary>Whether <paramref name="user"/> may do <paramref name="a"/>.</summary>
    public bool Allows(ServiceAccountIdentity user, RequestAttributes a)
    {
        if (!a.IsResourceRequest && a.Verb == "get" && PublicPaths.Any(p => PathMatches(p, a.Path!))) return true;
        if (a.IsResourceRequest && a.Verb == "create" && a.ApiGroup == "authorization.k8s.io" && a.Resource is "selfsubjectaccessreviews" or "selfsubjectrulesreviews") return true;
        foreach (var binding in store.Snapshot(ResourceTypes.ClusterRoleBindings))
            if (Binds(binding, user, null) && RulesOf(binding, null).Any(r => RuleAllows(r, a))) return true;
        if (a.IsResourceRequest && a.Namespace.Length > 0)
            foreach (var binding in store.Snapshot(ResourceTypes.RoleBindings, a.Namespace))
                if (Binds(binding, user, a.Namespace) && RulesOf(binding, a.Namespace).Any(r => RuleAllows(r, a))) return true;
        return false;
    }

    /// <summary>The upstream Forbidden message for a denied request.</summary>
    public static ApiException Forbidden(ServiceAccountIdentity user, RequestAttributes a)
    {
        if (!a.IsResourceRequest)
            return new ApiException(403, "Forbidden", $"forbidden: User \"{user.UserName}\" cannot {a.Verb} path \"{a.Path}\"");
        var resource = a.Subresource.Length > 0 ? $"{a.Resource}/{a.Subresource}" : a.Resource;
        var qualified = a.ApiGroup.Length > 0 ? $"{a.Resource}.{a.ApiGroup}" : a.Resource;
        var what = a.Name.Length > 0 ? $"{qualified} \"{a.Name}\"" : qualified;
        var scope = a.Namespace.Length > 0 ? $"in the namespace \"{a.Namespace}\"" : "at the cluster scope";
        return new ApiException(403, "Forbidden", $"{what} is forbidden: User \"{user.UserName}\" cannot {a.Verb} resource \"{resource}\" in API group \"{a.ApiGroup}\" {scope}")
        { DetailsName = a.Name.Length > 0 ? a.Name : null, DetailsGroup = a.ApiGroup, DetailsKind = a.Resource };
    }

    static bool Binds(StoredObject binding, ServiceAccountIdentity user, string? bindingNamespace) =>
        binding.Root.Items("subjects").Any(s => s.Str("kind") switch
        {
            "ServiceAccount" => s.Str("name") == user.Name && (s.Str("namespace") is { Length: > 0 } ns ? ns : bindingNamespace) == user.Namespace,
            "User" => s.Str("name") == user.UserName,
            "Group" => s.Str("name") is "system:serviceaccounts" or "system:authenticated" || s.Str("name") == $"system:serviceaccounts:{user.Namespace}",
            _ => false,
        });

    IEnumerable<JsonElement> RulesOf(StoredObject binding, string? ns)
    {
        var name = binding.Root.Str("roleRef", "name") ?? "";
        var role = binding.Root.Str("roleRef", "kind") == "Role" && ns is not null
            ? store.Get(ResourceTypes.Roles, ns, name)
            : store.Get(ResourceTypes.ClusterRoles, null, name);
        return role?.Root.Items("rules") ?? [];
    }

    static bool RuleAllows(JsonElement rule, RequestAttributes a)
    {
        if (!Has(rule, "verbs", v => v == "*" || v == a.Verb)) return false;
        if (!a.IsResourceRequest) return Has(rule, "nonResourceURLs", u => PathMatches(u, a.Path!));
        if (!Has(rule, "apiGroups", g => g == "*" || g == a.ApiGroup)) return false;
        var combined = a.Subresource.Length > 0 ? $"{a.Resource}/{a.Subresource}" : a.Resource;
        if (!Has(rule, "resources", r => r == "*" || r == combined || (a.Subresource.Length > 0 && r == "*/" + a.Subresource))) return false;
        var names = rule.Items("resourceNames").Select(n => n.GetString()).ToList();
        return names.Count == 0 || names.Contains(a.Name);
    }

    static bool Has(JsonElement rule, string field, Func<string, bool> match) =>
        rule.Items(field).Any(v => v.ValueKind == JsonValueKind.String && match(v.GetString()!));

    static bool PathMatches(string rule, string path) =>
        rule == "*" || rule == path || (rule.EndsWith('*') && path.StartsWith(rule[..^1], StringComparison.Ordinal));
}
