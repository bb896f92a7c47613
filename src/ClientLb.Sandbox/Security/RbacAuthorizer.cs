using System.Text.Json;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Security;

/// <summary>What a request asks to do, in RBAC's terms.</summary>
internal sealed record RequestAttributes(string Verb, string ApiGroup, string Resource, string Subresource, string Namespace, string Name, string? Path)
{
    public bool IsResourceRequest => Path is null;
}

/// <summary>One RBAC rule (a PolicyRule), as stored in a Role or ClusterRole.</summary>
internal sealed record PolicyRule(IReadOnlyList<string> Verbs, IReadOnlyList<string> ApiGroups, IReadOnlyList<string> Resources, IReadOnlyList<string> ResourceNames, IReadOnlyList<string> NonResourceUrls)
{
    public bool IsResourceRule => NonResourceUrls.Count == 0;

    public static PolicyRule From(JsonElement rule)
    {
        static string[] Strings(JsonElement r, string field) =>
            [.. r.Items(field).Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)];
        return new(Strings(rule, "verbs"), Strings(rule, "apiGroups"), Strings(rule, "resources"), Strings(rule, "resourceNames"), Strings(rule, "nonResourceURLs"));
    }

    /// <summary>Upstream's matching: verbs, apiGroups, resources with <c>resource/subresource</c> and <c>*/subresource</c>, resourceNames, nonResourceURLs with a trailing <c>*</c>.</summary>
    public bool Allows(RequestAttributes a)
    {
        if (!Verbs.Any(v => v == "*" || v == a.Verb))
        {
            return false;
        }

        if (!a.IsResourceRequest)
        {
            return NonResourceUrls.Any(u => RbacAuthorizer.PathMatches(u, a.Path!));
        }

        if (!ApiGroups.Any(g => g == "*" || g == a.ApiGroup))
        {
            return false;
        }

        string combined = a.Subresource.Length > 0 ? $"{a.Resource}/{a.Subresource}" : a.Resource;
        if (!Resources.Any(r => r == "*" || r == combined || (a.Subresource.Length > 0 && r == "*/" + a.Subresource)))
        {
            return false;
        }

        return ResourceNames.Count == 0 || ResourceNames.Contains(a.Name);
    }
}

/// <summary>
/// RBAC over the Roles, ClusterRoles and bindings stored in the sandbox, with upstream's matching rules and what every
/// authenticated user may do (discovery, version, health, self access reviews: upstream's system:discovery,
/// system:public-info-viewer and system:basic-user ClusterRoles).
/// </summary>
internal sealed class RbacAuthorizer(ObjectStore store)
{
    private static readonly string[] PublicPaths = ["/api", "/api/*", "/apis", "/apis/*", "/version", "/version/", "/openapi", "/openapi/*", "/healthz", "/livez", "/readyz"];

    /// <summary>The rules every authenticated user has without a binding.</summary>
    public static readonly IReadOnlyList<PolicyRule> AuthenticatedRules =
    [
        new(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], [], []),
        new(["get"], [], [], [], PublicPaths),
    ];

    /// <summary>Whether <paramref name="user"/> may do <paramref name="a"/>.</summary>
    public bool Allows(UserInfo user, RequestAttributes a) =>
        AuthenticatedRules.Any(r => r.Allows(a)) || RulesFor(user, a.IsResourceRequest ? a.Namespace : "").Any(r => r.Allows(a));

    /// <summary>
    /// Every rule bound to <paramref name="user"/>: its ClusterRoleBindings' and, in <paramref name="ns"/> (when not
    /// empty), its RoleBindings'. What a SelfSubjectRulesReview lists (without <see cref="AuthenticatedRules"/>).
    /// </summary>
    public IEnumerable<PolicyRule> RulesFor(UserInfo user, string ns)
    {
        foreach (StoredObject binding in store.Snapshot(ResourceTypes.ClusterRoleBindings))
        {
            if (Binds(binding, user, null))
            {
                foreach (PolicyRule rule in RulesOf(binding, null))
                {
                    yield return rule;
                }
            }
        }

        if (ns.Length == 0)
        {
            yield break;
        }

        foreach (StoredObject binding in store.Snapshot(ResourceTypes.RoleBindings, ns))
        {
            if (Binds(binding, user, ns))
            {
                foreach (PolicyRule rule in RulesOf(binding, ns))
                {
                    yield return rule;
                }
            }
        }
    }

    /// <summary>The upstream Forbidden message for a denied request.</summary>
    public static ApiException Forbidden(UserInfo user, RequestAttributes a)
    {
        if (!a.IsResourceRequest)
        {
            return new ApiException(403, "Forbidden", $"forbidden: User \"{user.UserName}\" cannot {a.Verb} path \"{a.Path}\"");
        }

        string resource = a.Subresource.Length > 0 ? $"{a.Resource}/{a.Subresource}" : a.Resource;
        string qualified = a.ApiGroup.Length > 0 ? $"{a.Resource}.{a.ApiGroup}" : a.Resource;
        string what = a.Name.Length > 0 ? $"{qualified} \"{a.Name}\"" : qualified;
        string scope = a.Namespace.Length > 0 ? $"in the namespace \"{a.Namespace}\"" : "at the cluster scope";
        return new ApiException(403, "Forbidden", $"{what} is forbidden: User \"{user.UserName}\" cannot {a.Verb} resource \"{resource}\" in API group \"{a.ApiGroup}\" {scope}")
        { DetailsName = a.Name.Length > 0 ? a.Name : null, DetailsGroup = a.ApiGroup, DetailsKind = a.Resource };
    }

    private static bool Binds(StoredObject binding, UserInfo user, string? bindingNamespace) =>
        binding.Root.Items("subjects").Any(s => s.Str("kind") switch
        {
            "ServiceAccount" => user.UserName == $"{UserInfo.ServiceAccountPrefix}{(s.Str("namespace") is { Length: > 0 } ns ? ns : bindingNamespace)}:{s.Str("name")}",
            "User" => s.Str("name") == user.UserName,
            "Group" => s.Str("name") is { } group && user.InGroup(group),
            _ => false,
        });

    private IEnumerable<PolicyRule> RulesOf(StoredObject binding, string? ns)
    {
        string name = binding.Root.Str("roleRef", "name") ?? "";
        StoredObject? role = binding.Root.Str("roleRef", "kind") == "Role" && ns is not null
            ? store.Get(ResourceTypes.Roles, ns, name)
            : store.Get(ResourceTypes.ClusterRoles, null, name);
        return role?.Root.Items("rules").Select(PolicyRule.From) ?? [];
    }

    internal static bool PathMatches(string rule, string path) =>
        rule == "*" || rule == path || (rule.EndsWith('*') && path.StartsWith(rule[..^1], StringComparison.Ordinal));
}
