using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Dns.Client;

/// <summary>
/// A stub resolver client as glibc's is: for each attempt, each name server in order (rotated when asked), UDP with
/// a per-attempt timeout, TCP when the answer is truncated. SERVFAIL, REFUSED, NOTIMP and FORMERR move on to the next
/// server; FORMERR to an EDNS query is retried once without EDNS (RFC 6891 §7).
/// </summary>
internal sealed partial class DnsStubClient : IDnsClient
{
    private readonly DnsResolverSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private int _rotation = -1;

    /// <summary>Creates the client.</summary>
    /// <param name="settings">Servers, timeout, attempts, rotate and EDNS size.</param>
    /// <param name="timeProvider">The clock for per-attempt timeouts.</param>
    /// <param name="logger">Receives debug messages about ignored datagrams and failed attempts.</param>
    public DnsStubClient(DnsResolverSettings settings, TimeProvider? timeProvider = null, ILogger<DnsStubClient>? logger = null)
    {
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The settings in use.</summary>
    public DnsResolverSettings Settings => _settings;

    /// <inheritdoc />
    public async Task<DnsQueryResult> QueryAsync(DnsQuestion question, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(question);
        IReadOnlyList<IPEndPoint> servers = _settings.Servers;
        if (servers.Count == 0)
        {
            throw new DnsResolutionException($"No DNS server is configured to ask '{question}' ({_settings.Origin} lists no nameserver and no server was given in options)");
        }
        int first = _settings.Rotate ? (int)((uint)Interlocked.Increment(ref _rotation) % (uint)servers.Count) : 0;
        var failures = new List<string>();
        for (int attempt = 1; attempt <= _settings.Attempts; attempt++)
        {
            for (int i = 0; i < servers.Count; i++)
            {
                IPEndPoint server = servers[(first + i) % servers.Count];
                string? failure = null;
                // What the server sent that was not an answer (malformed, wrong question): a timeout then says so.
                string? ignored = null;
                void OnIgnored(string why)
                {
                    ignored = why;
                    LogIgnored(_logger, question.ToString(), why);
                }
                try
                {
                    DnsQueryResult result = await QueryServerAsync(server, question, _settings.UdpPayloadSize, OnIgnored, cancellationToken).ConfigureAwait(false);
                    if (result.Response.ResponseCode == DnsResponseCode.FormErr && _settings.UdpPayloadSize is not null)
                    {
                        result = await QueryServerAsync(server, question, null, OnIgnored, cancellationToken).ConfigureAwait(false);
                    }
                    if (result.Response.ResponseCode is DnsResponseCode.NoError or DnsResponseCode.NXDomain)
                    {
                        return result;
                    }
                    failure = $"{server} answered {result.Response.ResponseCode}" + (result.Response.ResponseCode == DnsResponseCode.FormErr ? " (it could not parse the query)" : "");
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = ignored is null
                        ? $"{server} did not answer within {_settings.Timeout.TotalMilliseconds:0} ms"
                        : $"{server} sent no usable answer within {_settings.Timeout.TotalMilliseconds:0} ms; it sent {ignored}";
                }
                catch (SocketException ex)
                {
                    failure = $"{server}: {ex.SocketErrorCode} ({ex.Message})";
                }
                catch (DnsResolutionException ex)
                {
                    failure = ex.Message;
                }
                catch (DnsFormatException ex)
                {
                    failure = $"{server} truncated its UDP answer and sent a malformed TCP response: {ex.Message}";
                }
                failures.Add($"attempt {attempt}: {failure}");
                LogAttemptFailed(_logger, question.ToString(), attempt, failure);
            }
        }
        throw new DnsResolutionException($"No DNS server gave a usable answer to '{question}'", failures);
    }

    private async Task<DnsQueryResult> QueryServerAsync(IPEndPoint server, DnsQuestion question, ushort? udpPayloadSize, Action<string> onIgnored, CancellationToken cancellationToken)
    {
        ushort id = (ushort)RandomNumberGenerator.GetInt32(0, 0x10000);
        byte[] query = DnsMessage.CreateQuery(id, question, udpPayloadSize).Encode();
        DnsMessage response;
        using (var timer = new CancellationTokenSource(_settings.Timeout, _time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token))
        {
            response = await DnsUdpExchange.ExchangeAsync(server, query, id, question, onIgnored, linked.Token).ConfigureAwait(false);
        }
        if (!response.IsTruncated)
        {
            return new DnsQueryResult(response, server, DnsTransport.Udp);
        }
        LogTruncated(_logger, question.ToString(), server.ToString());
        using (var timer = new CancellationTokenSource(_settings.Timeout, _time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token))
        {
            try
            {
                response = await DnsTcpExchange.ExchangeAsync(server, query, id, question, linked.Token).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new DnsResolutionException($"{server} truncated its UDP answer and the TCP retry failed: {ex.SocketErrorCode} ({ex.Message})");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new DnsResolutionException($"{server} truncated its UDP answer and did not answer over TCP within {_settings.Timeout.TotalMilliseconds:0} ms");
            }
        }
        return new DnsQueryResult(response, server, DnsTransport.Tcp);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "DNS query {Question}: ignored {Reason}")]
    private static partial void LogIgnored(ILogger logger, string question, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "DNS query {Question}: attempt {Attempt} failed: {Failure}")]
    private static partial void LogAttemptFailed(ILogger logger, string question, int attempt, string failure);

    [LoggerMessage(Level = LogLevel.Debug, Message = "DNS query {Question}: the UDP answer from {Server} was truncated; retrying over TCP")]
    private static partial void LogTruncated(ILogger logger, string question, string server);
}
