using System.Net;
using System.Security.Cryptography;
using System.Text;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Node;

namespace ClientLb.Agent.Relay;

/// <summary>
/// Serves a Service only to a token that can list it: the relay asks the API server, with the SDK's own token, for the
/// same two lists the SDK's own watch would start with (the Service by name and its EndpointSlices by label), so the
/// decision is the API server's own (RBAC, webhooks, token expiry) and the agent needs no right to review others'
/// access. A decision is kept for <see cref="CacheFor"/> per (token, namespace, service), so a node's pods sharing a
/// service account cost the API server two small lists per Service per period, not one watch per pod.
/// </summary>
public sealed class TokenListAuthorizer : IRelayAuthorizer
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Token, string Ns, string Service), (string? Denied, DateTimeOffset Until)> _decisions = [];
    private readonly Dictionary<(string Token, string Ns, string Service), Task<string?>> _asking = [];
    private readonly Func<string, KubernetesApiClient> _apiFor;
    private readonly TimeProvider _time;

    /// <summary>Checks against the API server of <paramref name="agentConfiguration"/> (its address and TLS trust), with the SDK's token.</summary>
    public TokenListAuthorizer(k8s.KubernetesClientConfiguration agentConfiguration, TimeSpan? requestTimeout = null, TimeProvider? timeProvider = null)
        : this(token => KubernetesApiClient.FromConfiguration(WithToken(agentConfiguration, token), requestTimeout ?? TimeSpan.FromSeconds(10)), timeProvider)
    {
    }

    /// <summary>Checks through the API <paramref name="apiFor"/> gives for a token (tests, adapters); each is disposed after its check.</summary>
    internal TokenListAuthorizer(Func<string, KubernetesApiClient> apiFor, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(apiFor);
        _apiFor = apiFor;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How long a decision is kept (default 1 minute): a revoked right ends the streams it allowed within this.</summary>
    public TimeSpan CacheFor { get; init; } = TimeSpan.FromMinutes(1);

    /// <inheritdoc />
    public async Task<string?> CheckAsync(string token, string ns, string service, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        (string, string ns, string service) key = (Hash(token), ns, service);
        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_decisions.TryGetValue(key, out (string? Denied, DateTimeOffset Until) kept) && kept.Until > now)
            {
                return kept.Denied;
            }
        }
        // One question at a time per key: the pods of a node that open their streams together share its answer.
        Task<string?> asking;
        lock (_gate)
        {
            if (!_asking.TryGetValue(key, out asking!))
            {
                _asking[key] = asking = AskAsync(token, ns, service, CancellationToken.None);
            }
        }
        string? denied;
        try
        {
            denied = await asking.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                if (asking.IsCompleted && _asking.TryGetValue(key, out Task<string?>? current) && current == asking)
                {
                    _asking.Remove(key);
                }
            }
        }
        lock (_gate)
        {
            if (_decisions.Count > 10_000)
            {
                foreach ((string Token, string Ns, string Service) stale in _decisions.Where(d => d.Value.Until <= now).Select(static d => d.Key).ToList())
                {
                    _decisions.Remove(stale);
                }
            }
            _decisions[key] = (denied, now + CacheFor);
        }
        return denied;
    }

    private async Task<string?> AskAsync(string token, string ns, string service, CancellationToken cancellationToken)
    {
        KubernetesApiClient api = _apiFor(token);
        try
        {
            await api.CheckReadAccessAsync(ns, service, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (KubernetesApiException ex) when (ex.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            return ex.StatusCode == HttpStatusCode.Unauthorized
                ? "the API server does not accept the caller's token (401)"
                : $"the caller's token may not list Services and EndpointSlices of {ns}/{service}: {ex.StatusMessage ?? "403 Forbidden"}";
        }
        catch (Exception ex) when (ex is KubernetesApiException or HttpRequestException or TimeoutException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new RelayAuthorizationUnavailableException($"cannot check the caller's access to {ns}/{service}: {ex.Message}", ex);
        }
        finally
        {
            api.Dispose();
        }
    }

    private static string Hash(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static k8s.KubernetesClientConfiguration WithToken(k8s.KubernetesClientConfiguration agent, string token) =>
        new()
        {
            Host = agent.Host,
            SslCaCerts = agent.SslCaCerts,
            SkipTlsVerify = agent.SkipTlsVerify,
            TlsServerName = agent.TlsServerName,
            AccessToken = token,
        };
}
