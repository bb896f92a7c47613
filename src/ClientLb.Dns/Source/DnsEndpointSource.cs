using ClientLb.Diagnostics;
using ClientLb.Dns.Configuration;
using ClientLb.Endpoints;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;

namespace ClientLb.Dns.Source;

/// <summary>
/// Endpoints of one service from DNS, refreshed when the answer's TTL runs out (within the configured bounds).
/// A failed refresh keeps the last good endpoints and backs off; a negative answer (NXDOMAIN, no records) for a
/// service that had endpoints is reported at once but only empties the list after the grace period.
/// </summary>
internal sealed partial class DnsEndpointSource : EndpointSource
{
    private readonly DnsServiceQuery _query;
    private readonly DnsSourceOptions _options;
    private readonly DnsRefreshPolicy _policy;
    private readonly ILogger _logger;
    private DateTimeOffset? _negativeSince;
    private int _consecutiveFailures;
    private bool _singleTargetLogged;

    public DnsEndpointSource(DnsServiceQuery query, DnsSourceOptions options, TimeProvider timeProvider, ILogger logger)
        : base(query.Service, "dns", $"dns {query.Mode} {query.Name}", timeProvider)
    {
        _query = query;
        _options = options;
        _policy = new DnsRefreshPolicy(options);
        _logger = logger;
    }

    /// <summary>Runs one refresh and returns the time to wait before the next; exposed for tests that drive it directly.</summary>
    internal async Task<TimeSpan> RefreshAsync(CancellationToken cancellationToken)
    {
        DnsServiceAnswer answer;
        try
        {
            answer = await _query.ResolveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            _consecutiveFailures++;
            TimeSpan backoff = _policy.AfterFailure(_consecutiveFailures);
            LogRefreshFailed(_logger, Service.ToString(), _consecutiveFailures, Current?.Endpoints.Length ?? 0, backoff, ex.Message);
            ReportFailure(ex);
            return backoff;
        }
        _consecutiveFailures = 0;
        foreach (DroppedRecord dropped in answer.Dropped)
        {
            DroppedRecords.Report(_logger, Service.ToString(), "dns", dropped.Record, dropped.Reason);
        }
        if (answer.NotFound is null)
        {
            _negativeSince = null;
            NoteSingleTarget(answer);
            // Servers rotate record order (dnsmasq, CoreDNS): sort so an unchanged set is not published as a change.
            Publish(answer.Endpoints.OrderBy(e => e.Host, StringComparer.Ordinal).ThenBy(e => e.Port));
            return _policy.AfterAnswer(answer.Ttl);
        }
        if (answer.Dropped.Count > 0)
        {
            // Records came but none was valid: that is a broken or hostile answer, not an empty service, so the last
            // known good endpoints stay (however long) and the reason is reported.
            var refused = new DnsServiceNotFoundException(Service, answer.QueriedName, answer.NotFound!);
            LogAllRefused(_logger, Service.ToString(), Current?.Endpoints.Length ?? 0, refused.Message);
            ReportFailure(refused);
            return _policy.AfterAnswer(answer.Ttl);
        }
        return OnNegativeAnswer(answer);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan delay = await RefreshAsync(stoppingToken).ConfigureAwait(false);
            try
            {
                await Task.Delay(delay, TimeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private TimeSpan OnNegativeAnswer(DnsServiceAnswer answer)
    {
        var error = new DnsServiceNotFoundException(Service, answer.QueriedName, answer.NotFound!);
        TimeSpan next = _policy.AfterAnswer(answer.Ttl);
        int known = Current?.Endpoints.Length ?? 0;
        if (known == 0)
        {
            LogNotFound(_logger, error.Message);
            ReportFailure(error);
            return next;
        }
        DateTimeOffset now = TimeProvider.GetUtcNow();
        _negativeSince ??= now;
        TimeSpan left = _negativeSince.Value + _options.EmptyAnswerGracePeriod - now;
        if (left <= TimeSpan.Zero)
        {
            LogEmptied(_logger, Service.ToString(), known, _options.EmptyAnswerGracePeriod, error.Message);
            Publish([]);
            ReportFailure(error);
            return next;
        }
        LogKeeping(_logger, Service.ToString(), known, left, error.Message);
        ReportFailure(error);
        // Look again no later than the end of the grace period, so the list is emptied on time if DNS stays empty.
        return next < left ? next : left;
    }

    private void NoteSingleTarget(DnsServiceAnswer answer)
    {
        if (_singleTargetLogged || answer.Endpoints.Count != 1 || _query.Mode == DnsResolutionMode.Srv)
        {
            return;
        }
        _singleTargetLogged = true;
        Endpoint only = answer.Endpoints[0];
        if (_query.Mode == DnsResolutionMode.ClusterIp)
        {
            LogClusterIp(_logger, Service.ToString(), only.Authority);
        }
        else
        {
            LogSingleAddress(_logger, Service.ToString(), only.Authority);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS refresh of {Service} failed ({Failures} in a row); keeping {Count} last known endpoint(s), retrying in {Backoff}: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string service, int failures, int count, TimeSpan backoff, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS refresh of {Service}: every record was refused; keeping {Count} last known endpoint(s): {Error}")]
    private static partial void LogAllRefused(ILogger logger, string service, int count, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogNotFound(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS refresh of {Service}: keeping {Count} endpoint(s) for {Left} more (grace period) although: {Error}")]
    private static partial void LogKeeping(ILogger logger, string service, int count, TimeSpan left, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "DNS refresh of {Service}: removing all {Count} endpoint(s); DNS has had none for the grace period of {Grace}: {Error}")]
    private static partial void LogEmptied(ILogger logger, string service, int count, TimeSpan grace, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "DNS source for {Service} in ClusterIP mode resolves to the single virtual IP {Endpoint}: in-process balancing has one target and kube-proxy balances per connection, not per request. For per-request balancing use a headless Service, SRV (a named port), or the Kubernetes EndpointSlice source.")]
    private static partial void LogClusterIp(ILogger logger, string service, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "DNS source for {Service} found a single address {Endpoint}. If this is a ClusterIP virtual IP, in-process balancing has one target and kube-proxy balances per connection; use a headless Service, SRV (a named port), or the Kubernetes EndpointSlice source for per-request balancing.")]
    private static partial void LogSingleAddress(ILogger logger, string service, string endpoint);
}
