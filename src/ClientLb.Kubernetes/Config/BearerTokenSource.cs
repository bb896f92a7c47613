namespace ClientLb.Kubernetes.Config;

/// <summary>
/// Supplies the bearer token for each request. A token file is re-read when it changes (kubelet rotates projected
/// service-account tokens) and at least every <see cref="FileTokenSource.MaxAge"/>; an exec plugin's token is kept until
/// it expires (<see cref="ExecTokenSource"/>); a 401 forces a re-read. Never prints the token.
/// </summary>
internal abstract class BearerTokenSource
{
    public abstract string? GetToken();

    /// <summary>The token for the next request; sources that must run something (an exec plugin) do it asynchronously.</summary>
    public virtual ValueTask<string?> GetTokenAsync(CancellationToken cancellationToken) => ValueTask.FromResult(GetToken());

    /// <summary>Called after a 401: the next <see cref="GetToken"/> must not trust a cached value.</summary>
    public virtual void Invalidate()
    {
    }

    public sealed override string ToString() => GetType().Name + " (redacted)";
}

internal sealed class StaticTokenSource(string token) : BearerTokenSource
{
    public override string? GetToken() => token;
}

internal sealed class FileTokenSource(string path, string origin, TimeProvider time) : BearerTokenSource
{
    /// <summary>client-go re-reads the in-cluster token once a minute; so do we, besides on change.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private string? _token;
    private DateTime _writeTime;
    private long _length = -1;
    private DateTimeOffset _readAt;

    public string Path => path;

    public override string? GetToken()
    {
        lock (_gate)
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                // Keep a token we had (a rotation swaps files); fail only when there was never one.
                return _token ?? throw new KubernetesConfigException(origin, null, $"the token file '{path}' does not exist");
            }
            DateTimeOffset now = time.GetUtcNow();
            if (_token is null || info.LastWriteTimeUtc != _writeTime || info.Length != _length || now - _readAt >= MaxAge)
            {
                string text;
                try
                {
                    text = File.ReadAllText(path).Trim();
                }
                catch (IOException ex)
                {
                    return _token ?? throw new KubernetesConfigException(origin, null, $"the token file '{path}' cannot be read: {ex.Message}", ex);
                }
                if (text.Length == 0)
                {
                    return _token ?? throw new KubernetesConfigException(origin, null, $"the token file '{path}' is empty");
                }
                _token = text;
                _writeTime = info.LastWriteTimeUtc;
                _length = info.Length;
                _readAt = now;
            }
            return _token;
        }
    }

    public override void Invalidate()
    {
        lock (_gate)
        {
            _length = -1;
        }
    }
}
