using System.Net;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// A handler in KubernetesClient's HttpClient pipeline: after a 401 the token provider is told its token was refused
/// (a rotated token file is read again, an exec plugin runs again) and the request is sent once more with the new
/// token. KubernetesClient itself never retries a 401.
/// </summary>
internal sealed class CredentialRefreshHandler(RefreshableTokenProvider tokens) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || request.Headers.Authorization is null || request.Content is not null)
        {
            return response;
        }
        response.Dispose();
        tokens.Invalidate();
        request.Headers.Authorization = await tokens.GetAuthenticationHeaderAsync(cancellationToken).ConfigureAwait(false);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Sends every request with the kubeconfig's <c>tls-server-name</c> as its Host, as KubernetesClient does for the
/// requests it makes itself: SocketsHttpHandler then sends that name in SNI and checks the certificate against it.
/// ClientLb's own list and watch requests go through the same HttpClient, so they get it here.
/// </summary>
internal sealed class TlsServerNameHandler(string serverName) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Host = serverName;
        return base.SendAsync(request, cancellationToken);
    }
}
