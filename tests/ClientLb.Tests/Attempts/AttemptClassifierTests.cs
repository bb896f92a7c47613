using System.Net;
using System.Net.Sockets;
using ClientLb.Attempts;
using ClientLb.Balancing;
using ClientLb.Http;

namespace ClientLb.Tests.Attempts;

/// <summary>
/// The attempt model's verdicts as tables: what each end of an HTTP attempt tells passive health, which failure it counts,
/// and whether the request goes to another endpoint (the verdict allows it and the request may be sent again).
/// </summary>
public sealed class AttemptClassifierTests
{
    private static readonly HttpAttemptClassifier Http = HttpAttemptClassifier.Instance;

    [Theory]
    [InlineData(200, AttemptOutcome.Answered, null, null)]
    [InlineData(404, AttemptOutcome.Answered, null, null)]
    [InlineData(429, AttemptOutcome.Answered, null, null)]
    [InlineData(500, AttemptOutcome.ServerUnavailable, "status_5xx", null)]
    [InlineData(501, AttemptOutcome.ServerUnavailable, "status_5xx", null)]
    [InlineData(502, AttemptOutcome.ServerUnavailable, "status_5xx", "status_502")]
    [InlineData(503, AttemptOutcome.ServerUnavailable, "status_5xx", "status_503")]
    [InlineData(504, AttemptOutcome.ServerUnavailable, "status_5xx", "status_504")]
    public void An_http_answer_is_classified_by_its_status(int status, AttemptOutcome outcome, string? failure, string? retryReason)
    {
        using var response = new HttpResponseMessage((HttpStatusCode)status);

        AttemptVerdict verdict = Http.ClassifyAnswer(response);

        Assert.Equal(new AttemptVerdict(outcome, failure, retryReason, NotSent: false), verdict);
    }

    public static TheoryData<string, AttemptOutcome, string, string?, bool> Failures => new()
    {
        { "refused", AttemptOutcome.ConnectionFailed, "connection_error", "connection_error", true },
        { "connect timed out", AttemptOutcome.ConnectionFailed, "connection_error", "connection_error", true },
        { "pool closed", AttemptOutcome.EndpointLeft, "connection_error", "connection_error", true },
        { "response ended", AttemptOutcome.TransportFailed, "transport_error", "transport_error", false },
        { "socket reset", AttemptOutcome.TransportFailed, "transport_error", "transport_error", false },
        { "cancelled by a bound", AttemptOutcome.TransportFailed, "transport_error", "transport_error", false },
        { "a bug", AttemptOutcome.TransportFailed, "transport_error", null, false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_failed_send_means_the_same_in_every_protocol(string error, AttemptOutcome outcome, string failure, string? retryReason, bool notSent)
    {
        AttemptVerdict verdict = AttemptClassifier.ClassifyFailure(Error(error));

        Assert.Equal(new AttemptVerdict(outcome, failure, retryReason, notSent), verdict);
    }

    [Theory]
    // Nothing was sent: any request goes elsewhere, whatever its method and body.
    [InlineData("POST", "stream", false, true, true)]
    [InlineData("PATCH", "bytes", false, true, true)]
    // It may have run: idempotent with a body that can be sent again, or allowed by the caller.
    [InlineData("GET", "none", false, false, true)]
    [InlineData("PUT", "bytes", false, false, true)]
    [InlineData("DELETE", "memory", false, false, true)]
    [InlineData("PUT", "stream", false, false, false)]
    [InlineData("POST", "bytes", false, false, false)]
    [InlineData("POST", "bytes", true, false, true)]
    [InlineData("POST", "stream", true, false, false)]
    public void An_http_request_may_be_sent_again_when_nothing_was_sent_or_it_may_run_twice(string method, string body, bool allowRetry, bool notSent, bool expected)
    {
        using HttpRequestMessage request = Request(method, body, allowRetry);

        Assert.Equal(expected, Http.MaySendAgain(request, notSent));
    }

    [Theory]
    // status or failure, method, body -> goes to another endpoint; counted for passive health as
    [InlineData("503", "GET", "none", true, AttemptOutcome.ServerUnavailable)]
    [InlineData("503", "POST", "bytes", false, AttemptOutcome.ServerUnavailable)]
    [InlineData("500", "GET", "none", false, AttemptOutcome.ServerUnavailable)]
    [InlineData("200", "GET", "none", false, AttemptOutcome.Answered)]
    [InlineData("refused", "POST", "stream", true, AttemptOutcome.ConnectionFailed)]
    [InlineData("socket reset", "POST", "bytes", false, AttemptOutcome.TransportFailed)]
    [InlineData("socket reset", "PUT", "bytes", true, AttemptOutcome.TransportFailed)]
    [InlineData("a bug", "GET", "none", false, AttemptOutcome.TransportFailed)]
    public void An_http_attempt_is_retried_and_reported_as_its_verdict_says(string end, string method, string body, bool retried, AttemptOutcome health)
    {
        using HttpRequestMessage request = Request(method, body, allowRetry: false);
        using HttpResponseMessage? response = int.TryParse(end, out int status) ? new HttpResponseMessage((HttpStatusCode)status) : null;

        AttemptVerdict verdict = response is null ? AttemptClassifier.ClassifyFailure(Error(end)) : Http.ClassifyAnswer(response);

        Assert.Equal(health, verdict.Outcome);
        Assert.Equal(retried, verdict.RetryReason is not null && Http.MaySendAgain(request, verdict.NotSent));
    }

    internal static Exception Error(string name) => name switch
    {
        "refused" => new HttpRequestException(HttpRequestError.ConnectionError, "refused", new SocketException((int)SocketError.ConnectionRefused)),
        "connect timed out" => new OperationCanceledException("connect", new TimeoutException()),
        "pool closed" => new ObjectDisposedException("SocketsHttpHandler"),
        "response ended" => new HttpRequestException(HttpRequestError.ResponseEnded, "ended"),
        "socket reset" => new IOException("reset", new SocketException((int)SocketError.ConnectionReset)),
        "cancelled by a bound" => new OperationCanceledException("not the caller's token"),
        "a bug" => new InvalidOperationException("bug"),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such failure in the table"),
    };

    private static HttpRequestMessage Request(string method, string body, bool allowRetry)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), "http://svc/")
        {
            Content = body switch
            {
                "none" => null,
                "bytes" => new ByteArrayContent([1, 2, 3]),
                "memory" => new ReadOnlyMemoryContent(new byte[] { 1, 2, 3 }),
                "stream" => new StreamContent(new MemoryStream([1, 2, 3])),
                _ => throw new ArgumentOutOfRangeException(nameof(body), body, "no such body in the table"),
            },
        };
        if (allowRetry)
        {
            request.Options.Set(ClientLbRequestOptions.AllowRetry, true);
        }
        return request;
    }
}
