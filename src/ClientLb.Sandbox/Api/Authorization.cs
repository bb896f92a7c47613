using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// Who a request is (the cluster admin's token, a service account token the sandbox issued, or the user it impersonates
/// with <c>Impersonate-User</c>/<c>Impersonate-Group</c>, as <c>kubectl --as</c> sends) and, with RBAC on, whether the
/// stored Roles and bindings allow it.
/// </summary>
internal sealed class Authorization(ServiceAccountTokens tokens, RbacAuthorizer? rbac)
{
    private const string UserKey = "clientlb.sandbox.user";

    /// <summary>The RBAC evaluator, or null when every authenticated request is allowed.</summary>
    public RbacAuthorizer? Rbac => rbac;

    /// <summary>The user a request was authenticated (or impersonated) as; null for the cluster admin.</summary>
    public static UserInfo? UserOf(HttpContext ctx) => ctx.Items[UserKey] as UserInfo;

    /// <summary>
    /// The user of the request's bearer token (or the one it impersonates), or null for the cluster admin (the kubeconfig's
    /// token, or any request when the server requires no token). Throws 401 when a token is required and not valid, and
    /// 403 when the caller may not impersonate.
    /// </summary>
    public UserInfo? Authenticate(HttpContext ctx, Func<string, bool> isAdminToken, bool tokenRequired)
    {
        string header = ctx.Request.Headers.Authorization.ToString();
        string? token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..].Trim() : null;
        UserInfo? user = null;
        if (token is not null && tokens.Authenticate(token) is { } account)
        {
            user = account.User;
        }
        else if (tokenRequired && (token is null || !isAdminToken(token)))
        {
            throw new ApiException(401, "Unauthorized", "Unauthorized: a valid bearer token is required (see the sandbox kubeconfig, or a service account token the sandbox issued)");
        }

        user = Impersonate(ctx, user);
        if (user is not null)
        {
            ctx.Items[UserKey] = user;
        }

        return user;
    }

    /// <summary>The impersonated user when the request asks for one (and the caller may impersonate it), else <paramref name="caller"/>.</summary>
    private UserInfo? Impersonate(HttpContext ctx, UserInfo? caller)
    {
        IHeaderDictionary headers = ctx.Request.Headers;
        string userName = headers["Impersonate-User"].ToString();
        var groups = headers["Impersonate-Group"].Where(g => !string.IsNullOrEmpty(g)).Select(g => g!).ToList();
        if (userName.Length == 0)
        {
            if (groups.Count > 0 || headers.Keys.Any(k => k.StartsWith("Impersonate-", StringComparison.OrdinalIgnoreCase)))
            {
                throw ApiException.BadRequest("impersonation headers other than Impersonate-User were sent without Impersonate-User (kubectl: --as-group needs --as)");
            }

            return caller;
        }
        (string Namespace, string Name)? account = UserInfo.ServiceAccountOf(userName);
        if (userName.StartsWith(UserInfo.ServiceAccountPrefix, StringComparison.Ordinal) && account is null)
        {
            throw ApiException.BadRequest($"Impersonate-User \"{userName}\" is not a valid service account user name: expected system:serviceaccount:NAMESPACE:NAME");
        }

        if (caller is not null && rbac is not null)
        {
            RequestAttributes want = account is { } sa
                ? new RequestAttributes("impersonate", "", "serviceaccounts", "", sa.Namespace, sa.Name, null)
                : new RequestAttributes("impersonate", "", "users", "", "", userName, null);
            if (!rbac.Allows(caller, want))
            {
                throw RbacAuthorizer.Forbidden(caller, want);
            }

            foreach (string? group in groups)
            {
                var g = new RequestAttributes("impersonate", "", "groups", "", "", group, null);
                if (!rbac.Allows(caller, g))
                {
                    throw RbacAuthorizer.Forbidden(caller, g);
                }
            }
        }
        // As upstream: a service account keeps its groups unless groups are named; every impersonated user is authenticated.
        if (groups.Count == 0 && account is { } named)
        {
            groups.AddRange(UserInfo.ForServiceAccount(named.Namespace, named.Name).Groups);
        }

        if (!groups.Contains("system:authenticated"))
        {
            groups.Add("system:authenticated");
        }

        return new UserInfo(userName, groups);
    }

    /// <summary>With RBAC on, throws the upstream 403 Forbidden when the user may not do what the request asks.</summary>
    public void Authorize(HttpContext ctx, string path, UserInfo? user)
    {
        if (rbac is null || user is null)
        {
            return;
        }

        RequestAttributes a = Attributes(ctx, path);
        if (!rbac.Allows(user, a))
        {
            throw RbacAuthorizer.Forbidden(user, a);
        }
    }

    private static RequestAttributes Attributes(HttpContext ctx, string path)
    {
        string method = ctx.Request.Method;
        ApiPath? p = null;
        try { p = ApiPath.Parse(path); } catch (ApiException) { }
        if (p?.Type is not { } t)
        {
            return new RequestAttributes(method.ToLowerInvariant() switch { "post" => "post", var m => m }, "", "", "", "", "", path);
        }

        bool collection = p.Name is null;
        bool watch = p.LegacyWatch || HttpIo.Flag(ctx.Request.Query["watch"]);
        string verb = method switch
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
}
