using System.Net.Http.Headers;
using k8s.Authentication;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// A KubernetesClient token provider that can be told its token was refused (a 401), so the next request does not
/// trust a cached value (<see cref="CredentialRefreshHandler"/> then retries once). Never prints the token.
/// </summary>
internal abstract class RefreshableTokenProvider : ITokenProvider
{
    /// <summary>The bearer token for the next request.</summary>
    public abstract ValueTask<string> GetTokenAsync(CancellationToken cancellationToken);

    /// <summary>Called after a 401: the next <see cref="GetTokenAsync"/> must not trust a cached value.</summary>
    public abstract void Invalidate();

    /// <inheritdoc />
    public async Task<AuthenticationHeaderValue> GetAuthenticationHeaderAsync(CancellationToken cancellationToken) =>
        new("Bearer", await GetTokenAsync(cancellationToken).ConfigureAwait(false));

    public sealed override string ToString() => GetType().Name + " (redacted)";
}

/// <summary>
/// A bearer token read from a file (kubeconfig <c>user.tokenFile</c>, which KubernetesClient does not read, and the
/// in-cluster service-account token): re-read when it changes (kubelet rotates projected tokens), at least every
/// <see cref="MaxAge"/> and after a 401. KubernetesClient's <c>TokenFileAuth</c> re-reads only once a minute and fails
/// a request when a rotation briefly removes the file; this one keeps the last token then.
/// </summary>
internal sealed class FileTokenProvider(string path, string? origin, TimeProvider time) : RefreshableTokenProvider
{
    /// <summary>client-go re-reads the in-cluster token once a minute; so do we, besides on change.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private string? _token;
    private DateTime _writeTime;
    private long _length = -1;
    private DateTimeOffset _readAt;

    public string Path => path;

    public override ValueTask<string> GetTokenAsync(CancellationToken cancellationToken) => ValueTask.FromResult(GetToken());

    public string GetToken()
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
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
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
