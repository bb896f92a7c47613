namespace ClientLb.Sandbox.Security;

/// <summary>Who RBAC sees: a user name and its groups (a service account's, or one named by impersonation or a SubjectAccessReview).</summary>
internal sealed record UserInfo(string UserName, IReadOnlyList<string> Groups)
{
    public const string ServiceAccountPrefix = "system:serviceaccount:";

    /// <summary>A service account's user: system:serviceaccount:NS:NAME in system:serviceaccounts, system:serviceaccounts:NS and system:authenticated.</summary>
    public static UserInfo ForServiceAccount(string ns, string name) =>
        new($"{ServiceAccountPrefix}{ns}:{name}", ["system:serviceaccounts", $"system:serviceaccounts:{ns}", "system:authenticated"]);

    /// <summary>The namespace and name when <paramref name="userName"/> is a service account's user name (system:serviceaccount:NS:NAME), else null.</summary>
    public static (string Namespace, string Name)? ServiceAccountOf(string userName)
    {
        if (!userName.StartsWith(ServiceAccountPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        string[] parts = userName[ServiceAccountPrefix.Length..].Split(':');
        return parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0 ? (parts[0], parts[1]) : null;
    }

    public bool InGroup(string group) => Groups.Contains(group, StringComparer.Ordinal);
}
