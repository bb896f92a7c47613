using System.Text.Json.Nodes;
using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// SubjectAccessReview: whether spec.user (with spec.groups) may do what spec.resourceAttributes or
/// spec.nonResourceAttributes describe, by the stored RBAC rules. What a component that serves others (a node relay,
/// an admission hook) asks before acting for a caller; creating one needs create on subjectaccessreviews.
/// </summary>
internal static class SubjectAccessReviews
{
    const string Kind = "SubjectAccessReview";

    public static JsonObject Status(RbacAuthorizer? rbac, JsonObject review)
    {
        var userName = review.Str("spec", "user") ?? "";
        var groups = (review.Node("spec", "groups") as JsonArray ?? [])
            .Select(g => g is JsonValue v && v.TryGetValue<string>(out var name) ? name : "").Where(g => g.Length > 0).ToList();
        if (userName.Length == 0 && groups.Count == 0)
            throw AccessReviews.Invalid(Kind, "spec.user", "", "at least one of user or group must be specified");
        var a = AccessReviews.ReadAttributes(review, Kind);
        return AccessReviews.AccessStatus(rbac, new UserInfo(userName, groups), "", a);
    }
}
