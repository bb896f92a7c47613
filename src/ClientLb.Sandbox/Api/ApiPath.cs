using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>What a request path addresses: a discovery document, or a resource (collection, object, subresource).</summary>
internal sealed record ApiPath(
    string? DiscoveryGroup,
    string? DiscoveryVersion,
    ResourceType? Type,
    string? Namespace,
    string? Name,
    string? Subresource,
    bool LegacyWatch)
{
    public bool IsDiscovery => Type is null;

    /// <summary>Parses /api/..., /apis/...; null for paths outside the API (the caller answers 404).</summary>
    public static ApiPath? Parse(string path)
    {
        string[] s = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (s.Length == 0)
        {
            return null;
        }

        string group, version;
        int restStart;
        if (s[0] == "api")
        {
            if (s.Length == 1)
            {
                return new("", null, null, null, null, null, false);
            }

            group = ""; version = s[1]; restStart = 2;
        }
        else if (s[0] == "apis")
        {
            if (s.Length == 1)
            {
                return new(null, null, null, null, null, null, false);
            }

            if (s.Length == 2)
            {
                return new(s[1], null, null, null, null, null, false);
            }

            group = s[1]; version = s[2]; restStart = 3;
        }
        else
        {
            return null;
        }

        if (!ResourceTypes.GroupVersions.Contains(group.Length == 0 ? version : $"{group}/{version}"))
        {
            throw ApiException.NotFoundPath("/" + string.Join('/', s));
        }

        string[] rest = s[restStart..];
        if (rest.Length == 0)
        {
            return new(group, version, null, null, null, null, false);
        }

        bool legacyWatch = rest[0] == "watch";
        if (legacyWatch)
        {
            rest = rest[1..];
        }

        if (rest.Length == 0)
        {
            throw ApiException.NotFoundPath(path);
        }

        // /namespaces/{ns}/{plural}[/{name}[/{sub}]] when {plural} is a namespaced resource of this group-version.
        if (rest[0] == "namespaces" && rest.Length >= 3 && ResourceTypes.ByPath(group, version, rest[2]) is { Namespaced: true } nsType)
        {
            if (rest.Length > 5)
            {
                throw ApiException.NotFoundPath(path);
            }

            return new(group, version, nsType, rest[1], rest.ElementAtOrDefault(3), rest.ElementAtOrDefault(4), legacyWatch);
        }
        ResourceType type = ResourceTypes.ByPath(group, version, rest[0]) ?? throw ApiException.NotFoundPath(path);
        if (rest.Length > 3)
        {
            throw ApiException.NotFoundPath(path);
        }

        return new(group, version, type, null, rest.ElementAtOrDefault(1), rest.ElementAtOrDefault(2), legacyWatch);
    }
}
