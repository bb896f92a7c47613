using System.Text.Json.Nodes;
using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// Who a request is (the cluster admin's token, or a service account token the sandbox issued) and, with RBAC on, whether
/// the stored Roles and bindings allow it; also answers SelfSubjectAccessReviews (<c>kubectl auth can-i</c>).
/// </summary>
internal sealed class Authorization(ServiceAccountTokens tokens, RbacAuthorizer? rbac)
{
    internal const string UserKey = "clientlb.sandbox.user";

    /// <summary>
    /// The service account of the request's bearer token, or null for the cluster admin (the kubeconfig's token, or any
    /// request when the server requires no token). Throws 401 when a token is required and not valid.
    /// </summary>
    public ServiceAccountIdentity? Authenticate(HttpContext ctx, Func<string, bool> isAdminToken, bool tokenRequired)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..].Trim() : null;
        if (token is not null && tokens.Authenticate(token) is { } account)
        {
            ctx.Items[UserKey] = account;
            return account;
        }
        if (tokenRequired && (token is null || !isAdminToken(token)))
            throw new ApiException(401, "Unauthorized", "Unauthorized: a valid bearer token is required (see the sandbox kubeconfig, or a service account token the sandbox issued)");
        return null;
    }

    /// <summary>With RBAC on, throws the upstream 403 Forbidden when the service account may not do what the request asks.</summary>
    public void Authorize(HttpContext ctx, string path, ServiceAccountIdentity? user)
    {
        if (rbac is null || user is null) return;
        var a = Attributes(ctx, path);
        if (!rbac.Allows(user, a)) throw RbacAuthorizer.Forbidden(user, a);
    }

    static RequestAttributes Attributes(HttpContext ctx, string path)
    {
        var method = ctx.Request.Method;
        ApiPath? p = null;
        try { p = ApiPath.Parse(path); } catch (ApiException) { }
        if (p?.Type is not { } t)
            return new RequestAttributes(method.ToLowerInvariant() switch { "post" => "post", var m => m }, "", "", "", "", "", path);
        var collection = p.Name is null;
        var watch = p.LegacyWatch || HttpIo.Flag(ctx.Request.Query["watch"]);
        var verb = method switch
        {
            "GET" or "HEAD" => watch ? "watch" : collection ? "list" : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => collection ? "deletecollection" : "delete",
            _ => method.ToLowerInvariant(),
        };
        return new RequestAttributes(verb, t.Group, t.Plural, p.Subresource ?? "", p.Namespace ?? "", p.Name ?? "", null);
    }

    /// <summary>POST selfsubjectaccessreviews: whether the caller may do what spec.resourceAttributes or spec.nonResourceAttributes describe.</summary>
    public async Task ReviewAsync(HttpContext ctx)
    {
        if (ctx.Request.Method != "POST") throw ApiException.MethodNotAllowed($"the server does not allow this method on the requested resource ({ctx.Request.Method} selfsubjectaccessreviews.authorization.k8s.io)");
        var review = await HttpIo.ReadObjectAsync(ctx, "the SelfSubjectAccessReview object");
        var user = ctx.Items[UserKey] as ServiceAccountIdentity;
        RequestAttributes a;
        if (review.Node("spec", "resourceAttributes") is JsonObject r)
            a = new RequestAttributes(r.Str("verb") ?? "", r.Str("group") ?? "", r.Str("resource") ?? "", r.Str("subresource") ?? "", r.Str("namespace") ?? "", r.Str("name") ?? "", null);
        else if (review.Node("spec", "nonResourceAttributes") is JsonObject n)
            a = new RequestAttributes(n.Str("verb") ?? "", "", "", "", "", "", n.Str("path") ?? "");
        else
            throw new ApiException(422, "Invalid", "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified")
            { DetailsGroup = "authorization.k8s.io", DetailsKind = "SelfSubjectAccessReview", Causes = [new("FieldValueInvalid", "spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified")] };
        var allowed = user is null || rbac is null || rbac.Allows(user, a);
        review["apiVersion"] = "authorization.k8s.io/v1";
        review["kind"] = "SelfSubjectAccessReview";
        review.Metadata()["creationTimestamp"] = null;
        var status = new JsonObject { ["allowed"] = allowed };
        if (user is null) status["reason"] = "the sandbox's cluster admin may do anything";
        else if (rbac is null) status["reason"] = "authorization is off (start the sandbox with --authorization rbac)";
        else if (!allowed) status["reason"] = RbacAuthorizer.Forbidden(user, a).Message;
        review["status"] = status;
        await HttpIo.WriteJsonAsync(ctx, 201, review);
    }
}
