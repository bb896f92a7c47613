using System.Collections.Concurrent;
using System.Security.Cryptography;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Security;

/// <summary>The service account a token was issued for.</summary>
internal sealed record ServiceAccountIdentity(string Namespace, string Name, string Uid)
{
    /// <summary>The user RBAC evaluates: the account's name and groups.</summary>
    public UserInfo User => UserInfo.ForServiceAccount(Namespace, Name);
}

/// <summary>
/// Bearer tokens the sandbox issues for service accounts (token secrets and TokenRequests). A token is valid while its
/// service account still exists with the same UID and, for TokenRequests, until it expires.
/// </summary>
internal sealed class ServiceAccountTokens(ObjectStore store)
{
    private readonly ConcurrentDictionary<string, (ServiceAccountIdentity Account, DateTimeOffset? Expires)> _tokens = new(StringComparer.Ordinal);

    /// <summary>The cluster CA (PEM) put into token secrets, or null over plain HTTP.</summary>
    public string? CaPem { get; set; }

    public string Issue(string ns, string name, string uid, DateTimeOffset? expires = null)
    {
        string token = "sandbox-sa." + Convert.ToBase64String(RandomNumberGenerator.GetBytes(30)).Replace('+', '-').Replace('/', '_');
        _tokens[token] = (new ServiceAccountIdentity(ns, name, uid), expires);
        return token;
    }

    public void Revoke(string token) => _tokens.TryRemove(token, out _);

    /// <summary>The live service account of a token, or null when the token is unknown, expired, or its account is gone.</summary>
    public ServiceAccountIdentity? Authenticate(string token)
    {
        if (!_tokens.TryGetValue(token, out (ServiceAccountIdentity Account, DateTimeOffset? Expires) entry))
        {
            return null;
        }

        if (entry.Expires is { } expires && store.Time.GetUtcNow() >= expires)
        {
            return null;
        }

        StoredObject? account = store.Get(ResourceTypes.ServiceAccounts, entry.Account.Namespace, entry.Account.Name);
        return account is not null && account.Uid == entry.Account.Uid ? entry.Account : null;
    }
}
