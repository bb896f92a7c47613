namespace ClientLb.Sandbox.Store;

/// <summary>How object names of a resource are validated (the API server's rules differ per resource).</summary>
internal enum NameRule { Dns1123Label, Dns1035Label, Dns1123Subdomain, PathSegment }

/// <summary>Static description of one API resource: where it is served and how discovery describes it.</summary>
internal sealed class ResourceType
{
    public required string Group { get; init; }
    public required string Version { get; init; }
    public required string Plural { get; init; }
    public required string Singular { get; init; }
    public required string Kind { get; init; }
    public required bool Namespaced { get; init; }
    public required NameRule NameRule { get; init; }
    public string[] ShortNames { get; init; } = [];
    public string[] Categories { get; init; } = [];
    public bool HasStatus { get; init; }
    public bool HasScale { get; init; }
    /// <summary>Verbs discovery advertises; writes outside them are refused (Endpoints are the controller's alone).</summary>
    public string[] Verbs { get; init; } = ResourceTypes.AllVerbs;
    /// <summary>Why users may not write this resource, or null when they may.</summary>
    public string? ReadOnlyBecause { get; init; }
    /// <summary>Field paths (besides metadata.name/namespace) accepted in fieldSelector.</summary>
    public string[] SelectableFields { get; init; } = [];

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public string GroupVersion => ApiVersion;
    public string ListKind => Kind + "List";
    public override string ToString() => Group.Length == 0 ? Plural : $"{Plural}.{Group}";
}

/// <summary>The resources the sandbox serves.</summary>
internal static class ResourceTypes
{
    public static readonly string[] AllVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    public static readonly ResourceType Namespaces = new()
    {
        Group = "", Version = "v1", Plural = "namespaces", Singular = "namespace", Kind = "Namespace",
        Namespaced = false, NameRule = NameRule.Dns1123Label, ShortNames = ["ns"], HasStatus = true,
        SelectableFields = ["status.phase"],
    };

    public static readonly ResourceType Nodes = new()
    {
        Group = "", Version = "v1", Plural = "nodes", Singular = "node", Kind = "Node",
        Namespaced = false, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["no"], HasStatus = true,
    };

    public static readonly ResourceType Services = new()
    {
        Group = "", Version = "v1", Plural = "services", Singular = "service", Kind = "Service",
        Namespaced = true, NameRule = NameRule.Dns1035Label, ShortNames = ["svc"], Categories = ["all"], HasStatus = true,
        SelectableFields = ["spec.clusterIP", "spec.type"],
    };

    public static readonly ResourceType Pods = new()
    {
        Group = "", Version = "v1", Plural = "pods", Singular = "pod", Kind = "Pod",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["po"], Categories = ["all"], HasStatus = true,
        SelectableFields = ["spec.nodeName", "status.phase", "status.podIP"],
    };

    public static readonly ResourceType Deployments = new()
    {
        Group = "apps", Version = "v1", Plural = "deployments", Singular = "deployment", Kind = "Deployment",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["deploy"], Categories = ["all"],
        HasStatus = true, HasScale = true,
    };

    public static readonly ResourceType EndpointSlices = new()
    {
        Group = "discovery.k8s.io", Version = "v1", Plural = "endpointslices", Singular = "endpointslice", Kind = "EndpointSlice",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, SelectableFields = ["addressType"],
    };

    public static readonly ResourceType Endpoints = new()
    {
        Group = "", Version = "v1", Plural = "endpoints", Singular = "endpoints", Kind = "Endpoints",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["ep"], Verbs = ["get", "list", "watch"],
        ReadOnlyBecause = "the sandbox's endpoints controller keeps it from the Service's selector and its pods; change the Service or the pods instead",
    };

    public static readonly ResourceType ServiceAccounts = new()
    {
        Group = "", Version = "v1", Plural = "serviceaccounts", Singular = "serviceaccount", Kind = "ServiceAccount",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["sa"],
    };

    public static readonly ResourceType ConfigMaps = new()
    {
        Group = "", Version = "v1", Plural = "configmaps", Singular = "configmap", Kind = "ConfigMap",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["cm"],
    };

    public static readonly ResourceType Secrets = new()
    {
        Group = "", Version = "v1", Plural = "secrets", Singular = "secret", Kind = "Secret",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, SelectableFields = ["type"],
    };

    public static readonly ResourceType Events = new()
    {
        Group = "", Version = "v1", Plural = "events", Singular = "event", Kind = "Event",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["ev"],
        SelectableFields = ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
            "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"],
    };

    public static readonly ResourceType DaemonSets = new()
    {
        Group = "apps", Version = "v1", Plural = "daemonsets", Singular = "daemonset", Kind = "DaemonSet",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, ShortNames = ["ds"], Categories = ["all"], HasStatus = true,
    };

    public static readonly ResourceType Jobs = new()
    {
        Group = "batch", Version = "v1", Plural = "jobs", Singular = "job", Kind = "Job",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, Categories = ["all"], HasStatus = true,
    };

    public static readonly ResourceType Roles = Rbac("roles", "role", "Role", namespaced: true);
    public static readonly ResourceType ClusterRoles = Rbac("clusterroles", "clusterrole", "ClusterRole", namespaced: false);
    public static readonly ResourceType RoleBindings = Rbac("rolebindings", "rolebinding", "RoleBinding", namespaced: true);
    public static readonly ResourceType ClusterRoleBindings = Rbac("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", namespaced: false);

    /// <summary>Not stored: a POST answers whether the caller may do something (<c>kubectl auth can-i</c>).</summary>
    public static readonly ResourceType SelfSubjectAccessReviews = new()
    {
        Group = "authorization.k8s.io", Version = "v1", Plural = "selfsubjectaccessreviews", Singular = "selfsubjectaccessreview", Kind = "SelfSubjectAccessReview",
        Namespaced = false, NameRule = NameRule.Dns1123Subdomain, Verbs = ["create"],
    };

    /// <summary>Not stored: a POST lists what the caller may do in a namespace (<c>kubectl auth can-i --list</c>).</summary>
    public static readonly ResourceType SelfSubjectRulesReviews = new()
    {
        Group = "authorization.k8s.io", Version = "v1", Plural = "selfsubjectrulesreviews", Singular = "selfsubjectrulesreview", Kind = "SelfSubjectRulesReview",
        Namespaced = false, NameRule = NameRule.Dns1123Subdomain, Verbs = ["create"],
    };

    /// <summary>Not stored: a POST answers whether a named user or group may do something.</summary>
    public static readonly ResourceType SubjectAccessReviews = new()
    {
        Group = "authorization.k8s.io", Version = "v1", Plural = "subjectaccessreviews", Singular = "subjectaccessreview", Kind = "SubjectAccessReview",
        Namespaced = false, NameRule = NameRule.Dns1123Subdomain, Verbs = ["create"],
    };

    /// <summary>Not stored: a POST in a namespace answers whether a named user or group may do something there.</summary>
    public static readonly ResourceType LocalSubjectAccessReviews = new()
    {
        Group = "authorization.k8s.io", Version = "v1", Plural = "localsubjectaccessreviews", Singular = "localsubjectaccessreview", Kind = "LocalSubjectAccessReview",
        Namespaced = true, NameRule = NameRule.Dns1123Subdomain, Verbs = ["create"],
    };

    private static ResourceType Rbac(string plural, string singular, string kind, bool namespaced) => new()
    {
        Group = "rbac.authorization.k8s.io", Version = "v1", Plural = plural, Singular = singular, Kind = kind,
        Namespaced = namespaced, NameRule = NameRule.PathSegment,
    };

    public static readonly IReadOnlyList<ResourceType> All = [Namespaces, Nodes, Services, Pods, Deployments, EndpointSlices, Endpoints,
        ServiceAccounts, ConfigMaps, Secrets, Events, DaemonSets, Jobs, Roles, ClusterRoles, RoleBindings, ClusterRoleBindings,
        SelfSubjectAccessReviews, SelfSubjectRulesReviews, SubjectAccessReviews, LocalSubjectAccessReviews];

    public static ResourceType? ByPath(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);

    public static ResourceType? ByKind(string apiVersion, string kind) =>
        All.FirstOrDefault(t => t.ApiVersion == apiVersion && t.Kind == kind);

    public static IEnumerable<string> GroupVersions => All.Select(t => t.ApiVersion).Distinct();
}
