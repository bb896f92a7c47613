using System.Text.Json.Nodes;
using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// authorization.k8s.io/v1 reviews, answered by the sandbox's RBAC evaluator and never stored: SelfSubjectAccessReview
/// (<c>kubectl auth can-i VERB RESOURCE</c>), SelfSubjectRulesReview (<c>kubectl auth can-i --list</c>) and, in
/// <see cref="SubjectAccessReviews"/>, SubjectAccessReview and LocalSubjectAccessReview (may someone else do it). JSON or
/// protobuf in and out.
/// </summary>
internal sealed class AccessReviews(Authorization authorization)
{
    public static bool Handles(ResourceType t) =>
        t == ResourceTypes.SelfSubjectAccessReviews || t == ResourceTypes.SelfSubjectRulesReviews || t == ResourceTypes.SubjectAccessReviews
        || t == ResourceTypes.LocalSubjectAccessReviews;

    public async Task HandleAsync(HttpContext ctx, ResourceType t, string? ns)
    {
        if (ctx.Request.Method != "POST")
        {
            throw ApiException.MethodNotAllowed($"the server does not allow this method on the requested resource ({ctx.Request.Method} {t})");
        }

        JsonObject review = await HttpIo.ReadObjectAsync(ctx, $"the {t.Kind} object");
        if (review.Str("kind") is { } kind && kind != t.Kind)
        {
            throw ApiException.BadRequest($"the {t.Kind} object: the body is a {kind}, not a {t.Kind} ({t})");
        }

        UserInfo? user = Authorization.UserOf(ctx);
        JsonObject status = t == ResourceTypes.SelfSubjectRulesReviews ? RulesStatus(user, review)
            : t == ResourceTypes.SubjectAccessReviews || t == ResourceTypes.LocalSubjectAccessReviews ? SubjectAccessReviews.Status(authorization.Rbac, review, t.Kind, ns)
            : AccessStatus(authorization.Rbac, user, "the sandbox's cluster admin may do anything", ReadAttributes(review, t.Kind));
        review["apiVersion"] = t.ApiVersion;
        review["kind"] = t.Kind;
        review.Metadata()["creationTimestamp"] = null;
        if (t.Namespaced)
        {
            review.Metadata()["namespace"] = ns;
        }

        review["status"] = status;
        await HttpIo.WriteJsonAsync(ctx, 201, review);
    }

    /// <summary>spec.resourceAttributes or spec.nonResourceAttributes (exactly one, as upstream validates).</summary>
    public static RequestAttributes ReadAttributes(JsonObject review, string kind)
    {
        var r = review.Node("spec", "resourceAttributes") as JsonObject;
        var n = review.Node("spec", "nonResourceAttributes") as JsonObject;
        if ((r is null) == (n is null))
        {
            throw Invalid(kind, "spec.resourceAttributes", r is null ? "null" : "{...}", "exactly one of nonResourceAttributes or resourceAttributes must be specified");
        }

        return r is not null
            ? new RequestAttributes(r.Str("verb") ?? "", r.Str("group") ?? "", r.Str("resource") ?? "", r.Str("subresource") ?? "", r.Str("namespace") ?? "", r.Str("name") ?? "", null)
            : new RequestAttributes(n!.Str("verb") ?? "", "", "", "", "", "", n!.Str("path") ?? "");
    }

    public static ApiException Invalid(string kind, string field, string value, string detail) =>
        new(422, "Invalid", $"{kind}.authorization.k8s.io \"\" is invalid: {field}: Invalid value: \"{value}\": {detail}")
        { DetailsGroup = "authorization.k8s.io", DetailsKind = kind, Causes = [new("FieldValueInvalid", field, detail)] };

    /// <summary>The status of an access review: allowed, and why (the Forbidden message when RBAC denies it).</summary>
    public static JsonObject AccessStatus(RbacAuthorizer? rbac, UserInfo? user, string adminReason, RequestAttributes a)
    {
        bool allowed = user is null || rbac is null || rbac.Allows(user, a);
        var status = new JsonObject { ["allowed"] = allowed };
        if (user is null)
        {
            status["reason"] = adminReason;
        }
        else if (rbac is null)
        {
            status["reason"] = "authorization is off (start the sandbox with --authorization rbac)";
        }
        else if (!allowed)
        {
            status["reason"] = RbacAuthorizer.Forbidden(user, a).Message;
        }

        return status;
    }

    /// <summary>Every rule the caller has in spec.namespace: its bindings' rules plus what every authenticated user may do.</summary>
    private JsonObject RulesStatus(UserInfo? user, JsonObject review)
    {
        string ns = review.Str("spec", "namespace") ?? "";
        IEnumerable<PolicyRule> rules = user is null || authorization.Rbac is null
            ? [new(["*"], ["*"], ["*"], [], []), new(["*"], [], [], [], ["*"])]
            : [.. RbacAuthorizer.AuthenticatedRules, .. authorization.Rbac.RulesFor(user, ns)];
        var resourceRules = new JsonArray();
        var nonResourceRules = new JsonArray();
        foreach (PolicyRule rule in rules)
        {
            if (rule.IsResourceRule)
            {
                var o = new JsonObject { ["verbs"] = Strings(rule.Verbs) };
                if (rule.ApiGroups.Count > 0)
                {
                    o["apiGroups"] = Strings(rule.ApiGroups);
                }

                if (rule.Resources.Count > 0)
                {
                    o["resources"] = Strings(rule.Resources);
                }

                if (rule.ResourceNames.Count > 0)
                {
                    o["resourceNames"] = Strings(rule.ResourceNames);
                }

                resourceRules.Add((JsonNode)o);
            }
            else
            {
                nonResourceRules.Add((JsonNode)new JsonObject { ["verbs"] = Strings(rule.Verbs), ["nonResourceURLs"] = Strings(rule.NonResourceUrls) });
            }
        }
        return new JsonObject { ["resourceRules"] = resourceRules, ["nonResourceRules"] = nonResourceRules, ["incomplete"] = false };
    }

    private static JsonArray Strings(IEnumerable<string> values) => Json.Array(values.Select(v => (JsonNode?)JsonValue.Create(v)));
}
