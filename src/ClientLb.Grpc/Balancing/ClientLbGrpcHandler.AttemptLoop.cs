using System.Runtime.ExceptionServices;
using ClientLb.Balancing;
using ClientLb.Grpc.Diagnostics;
using ClientLb.LoadBalancing;
using Grpc.Core;

namespace ClientLb.Grpc.Balancing;

// The attempt loop: every call that is not completed by its first attempt (FirstAttempt) ends here, as do calls whose
// body is kept for a replay or whose answer is read ahead.
public sealed partial class ClientLbGrpcHandler
{
    /// <summary>
    /// The attempt loop: each attempt picks an endpoint (away from the one that failed), sends, and on a failure or
    /// UNAVAILABLE retries where that is safe, within the deadline and the retry budget. <paramref name="first"/>, when
    /// given, is the first attempt already sent.
    /// </summary>
    internal async Task<HttpResponseMessage> RunAsync(CallPlan call, AttemptStart? first)
    {
        HttpRequestMessage request = call.Request;
        ServiceBalancer balancer = call.Balancer;
        CancellationToken cancellationToken = call.CancellationToken;
        TimeProvider time = _registry.TimeProvider;
        HttpResponseMessage? failedResponse = null;
        ExceptionDispatchInfo? failedError = null;
        BalancedEndpoint? failed = null;
        int waits = 0;
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                AttemptStart sending;
                if (first is AttemptStart given)
                {
                    sending = given;
                    first = null;
                }
                else
                {
                    BalancedEndpoint picked;
                    Task pickerChanged = balancer.PickerChanged;
                    try
                    {
                        picked = balancer.Pick(failed is null ? new PickContext(request) : new PickContext(request, failed));
                    }
                    catch (NoEndpointsException ex)
                    {
                        if (WaitsForReady(request))
                        {
                            // Wait-for-ready: an endpoint may become eligible before the deadline (the caller's token).
                            await pickerChanged.WaitAsync(cancellationToken).ConfigureAwait(false);
                            attempt--;
                            continue;
                        }
                        if (failedResponse is not null || failedError is not null)
                        {
                            // Nowhere else to go: the caller gets the failure it had.
                            return Outcome(failedResponse, failedError);
                        }
                        throw Unavailable(ex);
                    }
                    if (attempt > 0)
                    {
                        failedResponse?.Dispose();
                        failedResponse = null;
                        failedError = null;
                        if (call.Timeout is TimeSpan t)
                        {
                            // The server of this attempt gets what is left of the call's deadline.
                            request.Headers.Remove(GrpcHeaders.Timeout);
                            request.Headers.TryAddWithoutValidation(GrpcHeaders.Timeout, GrpcHeaders.FormatTimeout(t - time.GetElapsedTime(call.CallStart)));
                        }
                    }
                    sending = StartAttempt(call, picked, pickerChanged, time.GetTimestamp());
                }
                BalancedEndpoint endpoint = sending.Endpoint;
                long start = sending.Start;
                HttpResponseMessage response;
                try
                {
                    response = await sending.Sent.ConfigureAwait(false);
                }
                catch (Exception raw)
                {
                    endpoint.OnRequestEnd();
                    AttemptFailureKind kind = AttemptFailure.Classify(raw, cancellationToken);
                    if (kind == AttemptFailureKind.CallerCancelled)
                    {
                        throw;
                    }
                    Exception ex = AttemptFailure.Describe(raw, endpoint);
                    balancer.EndAttempt(endpoint, start, null, ex);
                    bool notSent = kind == AttemptFailureKind.NotSent;
                    string reason = notSent ? "connection_error" : "transport_error";
                    _registry.Metrics.Failed(endpoint, reason);
                    failedError = ExceptionDispatchInfo.Capture(ex);
                    failed = endpoint;
                    if (ShouldRetry(call, endpoint, attempt, ex is HttpRequestException or IOException, notSent, reason))
                    {
                        continue;
                    }
                    if (notSent && WaitsForReady(request))
                    {
                        // Wait-for-ready: no endpoint could take the call yet; try again after a short backoff, or at once
                        // when the picker changes, until the deadline.
                        await WaitToRetryAsync(sending.PickerChanged, waits++, time, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    if (ReferenceEquals(ex, raw))
                    {
                        throw;
                    }
                    throw ex;
                }

                // A status in the headers means the call is over (trailers-only, or an HTTP error a proxy answered).
                StatusCode? status = GrpcHeaders.StatusOfHeaders(response);
                bool ended = status is not null;
                byte[]? prefix = null;
                if (!ended && call.Idempotent && _unary.Contains(call.Method))
                {
                    ResponseReadAhead.Result ahead = await ResponseReadAhead.ReadAsync(response, _replayLimit, cancellationToken).ConfigureAwait(false);
                    if (ahead.Error is Exception lost)
                    {
                        // The connection went away mid-answer: the call may have run, and the method says that is fine.
                        endpoint.OnRequestEnd();
                        response.Dispose();
                        if (AttemptFailure.Classify(lost, cancellationToken) == AttemptFailureKind.CallerCancelled)
                        {
                            ExceptionDispatchInfo.Throw(lost);
                        }
                        Exception described = AttemptFailure.Describe(lost, endpoint);
                        balancer.EndAttempt(endpoint, start, null, described);
                        _registry.Metrics.Failed(endpoint, "transport_error");
                        if (!ShouldRetry(call, endpoint, attempt, true, false, "transport_error"))
                        {
                            ExceptionDispatchInfo.Throw(described);
                        }
                        failedError = ExceptionDispatchInfo.Capture(described);
                        failed = endpoint;
                        continue;
                    }
                    if (ahead.Complete)
                    {
                        ended = true;
                        response.Content = ResponseReadAhead.Buffered(response.Content, ahead.Body);
                        status = GrpcHeaders.StatusOf(response.TrailingHeaders);
                    }
                    else
                    {
                        prefix = ahead.Body;
                    }
                }
                if (!ended)
                {
                    return UnderWay(balancer, sending, response, prefix);
                }
                bool unavailable = status == StatusCode.Unavailable;
                balancer.EndAttempt(endpoint, start, response, null, unavailable);
                endpoint.OnRequestEnd();
                if (unavailable)
                {
                    _registry.Metrics.Failed(endpoint, "grpc_unavailable");
                    if (ShouldRetry(call, endpoint, attempt, true, false, "grpc_unavailable"))
                    {
                        failedResponse = response;
                        failed = endpoint;
                        continue;
                    }
                }
                return response;
            }
        }
        catch
        {
            failedResponse?.Dispose();
            throw;
        }
        finally
        {
            request.RequestUri = call.Original;
        }
    }

    // grpc-dotnet marks a call made with CallOptions.WithWaitForReady() on the request. Read on failure paths only: reading
    // HttpRequestMessage.Options creates its dictionary, which grpc-dotnet leaves unallocated for other calls.
    private static bool WaitsForReady(HttpRequestMessage request) => request.Options.TryGetValue(WaitForReadyKey, out bool wait) && wait;

    private static async Task WaitToRetryAsync(Task pickerChanged, int waits, TimeProvider time, CancellationToken cancellationToken)
    {
        TimeSpan backoff = TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(waits, 5)));
        try
        {
            await pickerChanged.WaitAsync(backoff, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The backoff passed without a picker change: try the endpoints again.
        }
    }

    private static HttpResponseMessage Outcome(HttpResponseMessage? response, ExceptionDispatchInfo? error)
    {
        error?.Throw();
        return response!;
    }

    // The call may go elsewhere when: retries are left, another endpoint exists, the deadline has not passed, the budget
    // allows it, and its body can be sent (again): nothing was sent yet, or the method is idempotent and its body either
    // never started (the connection died before it, e.g. while the headers were written) or was kept.
    private bool ShouldRetry(in CallPlan call, BalancedEndpoint endpoint, int attempt, bool retryableFailure, bool notProcessed, string reason)
    {
        ServiceBalancer balancer = call.Balancer;
        string method = call.Method;
        CallContent? content = call.Content;
        if (!retryableFailure || attempt >= _maxRetries || !balancer.HasOtherEndpoint(endpoint))
        {
            return false;
        }
        if (call.Timeout is TimeSpan t && _registry.TimeProvider.GetElapsedTime(call.CallStart) >= t)
        {
            return false;
        }
        // Not sent: the body was never read (with or without a kept copy). Maybe sent: an idempotent call whose wrapped body
        // was never read (so it can still be sent) or was kept whole.
        bool canSend = notProcessed ? content is null or { Started: false } or { CanReplay: true } : call.Idempotent && content is ({ Started: false } or { CanReplay: true });
        if (!canSend)
        {
            return false;
        }
        if (!balancer.RetryBudget.TryWithdraw())
        {
            _registry.Metrics.BudgetExhausted(balancer.Service.Id);
            Log.RetryBudgetExhausted(_logger, balancer.Service.Id, method, reason, endpoint.Endpoint.Authority);
            return false;
        }
        _registry.Metrics.Retried(balancer.Service.Id);
        Log.Retrying(_logger, balancer.Service.Id, method, attempt + 1, reason, endpoint.Endpoint.Authority);
        return true;
    }
}
