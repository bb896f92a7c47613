using System.Text.Json.Nodes;
using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// SubjectAccessReview (and LocalSubjectAccessReview, the same question asked within one namespace): whether spec.user (with spec.groups) may do what spec.resourceAttributes or
/// spec.nonResourceAttributes describe, by the stored RBAC rules. What a component that serves others (a node relay,
/// an admission hook) asks before acting for a caller; creating one needs create on subjectaccessreviews.
/// </summary>
internal static class SubjectAccessReviews
{
    /// <param name="rbac">The evaluator, or null when authorization is off.</param>
    /// <param name="review">The review's body.</param>
    /// <param name="kind">SubjectAccessReview or LocalSubjectAccessReview.</param>
    /// <param name="ns">The namespace of a LocalSubjectAccessReview (its attributes must name it), null for the cluster-wide kind.</param>
    public static JsonObject Status(RbacAuthorizer? rbac, JsonObject review, string kind, string? ns)
    {
        string userName = review.Str("spec", "user") ?? "";
        var groups = (review.Node("spec", "groups") as JsonArray ?? [])
            .Select(g => g is JsonValue v && v.TryGetValue<string>(out string? name) ? name : "").Where(g => g.Length > 0).ToList();
        if (userName.Length == 0 && groups.Count == 0)
        {
            throw AccessReviews.Invalid(kind, "spec.user", "", "at least one of user or group must be specified");
        }

        RequestAttributes a = AccessReviews.ReadAttributes(review, kind);
        if (ns is not null && !a.IsResourceRequest)
        {
            throw AccessReviews.Invalid(kind, "spec.nonResourceAttributes", "{...}", "disallowed on this kind of request");
        }

        if (ns is not null && a.Namespace != ns)
        {
            throw AccessReviews.Invalid(kind, "spec.resourceAttributes.namespace", a.Namespace, $"must match metadata.namespace (\"{ns}\")");
        }

        return AccessReviews.AccessStatus(rbac, new UserInfo(userName, groups), "", a);
    }
}
