using System.Diagnostics.CodeAnalysis;

namespace ClientLb.Grpc.Configuration;

/// <summary>A set of gRPC methods (<c>package.Service/Method</c>, <c>package.Service/*</c>) matched against request paths.</summary>
internal sealed class MethodSet
{
    private readonly HashSet<string> _methods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _services = new(StringComparer.Ordinal);

    public MethodSet(IEnumerable<string> patterns)
    {
        foreach (string pattern in patterns)
        {
            if (!TryParsePattern(pattern, out string? normalized, out string? error))
            {
                throw new ArgumentException($"The method pattern '{pattern}' is invalid: {error}", nameof(patterns));
            }
            if (normalized.EndsWith("/*", StringComparison.Ordinal))
            {
                _services.Add(normalized[..^1]);
            }
            else
            {
                _methods.Add(normalized);
            }
        }
    }

    public bool IsEmpty => _methods.Count == 0 && _services.Count == 0;

    /// <summary>Whether the request path <c>/package.Service/Method</c> is in the set.</summary>
    public bool Contains(string path)
    {
        if (IsEmpty)
        {
            return false;
        }
        if (_methods.Contains(path))
        {
            return true;
        }
        int slash = path.LastIndexOf('/');
        return slash > 0 && _services.Count > 0 && _services.Contains(path[..(slash + 1)]);
    }

    /// <summary>Normalizes <c>package.Service/Method</c> (a leading slash is allowed) to <c>/package.Service/Method</c>.</summary>
    public static bool TryParsePattern(string? pattern, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out string? error)
    {
        normalized = null;
        if (string.IsNullOrWhiteSpace(pattern))
        {
            error = "it is empty";
            return false;
        }
        string path = pattern[0] == '/' ? pattern : "/" + pattern;
        int slash = path.IndexOf('/', 1);
        if (slash <= 1 || slash == path.Length - 1 || path.IndexOf('/', slash + 1) >= 0)
        {
            error = "write 'package.Service/Method' or 'package.Service/*'";
            return false;
        }
        if (path.AsSpan().ContainsAny(" ?#*") && !(path.EndsWith("/*", StringComparison.Ordinal) && path.IndexOf('*') == path.Length - 1 && !path.AsSpan().ContainsAny(" ?#")))
        {
            error = "only a whole method name or a trailing '/*' is allowed (no spaces, '?', '#' or other wildcards)";
            return false;
        }
        normalized = path;
        error = null;
        return true;
    }
}
