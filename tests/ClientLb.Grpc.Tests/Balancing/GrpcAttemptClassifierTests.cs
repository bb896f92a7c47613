using System.Net;
using System.Net.Sockets;
using ClientLb.Attempts;
using ClientLb.Balancing;
using ClientLb.Grpc.Balancing;
using ClientLb.Grpc.Configuration;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>
/// gRPC's verdicts as tables: what each end of an attempt tells passive health, which failure it counts, and whether the
/// call goes to another endpoint (UNAVAILABLE or a failed send, and a body that can be sent again).
/// </summary>
public sealed class GrpcAttemptClassifierTests
{
    private const string Idempotent = "/greet.Greeter/SayHello", Other = "/greet.Greeter/SayGoodbye";
    private static readonly GrpcAttemptClassifier Grpc = new(new MethodSet(["greet.Greeter/SayHello"]));

    [Theory]
    // HTTP status, grpc-status in the headers (trailers-only), in the trailers of an answer read ahead -> verdict
    [InlineData(200, "14", null, AttemptOutcome.ServerUnavailable, "grpc_unavailable", "grpc_unavailable")]
    [InlineData(200, "0", null, AttemptOutcome.Answered, null, null)]
    [InlineData(200, "4", null, AttemptOutcome.Answered, null, null)]
    [InlineData(200, "13", null, AttemptOutcome.Answered, null, null)]
    [InlineData(200, null, null, AttemptOutcome.Answered, null, null)]
    [InlineData(200, null, "14", AttemptOutcome.ServerUnavailable, "grpc_unavailable", "grpc_unavailable")]
    [InlineData(200, null, "0", AttemptOutcome.Answered, null, null)]
    [InlineData(503, null, null, AttemptOutcome.ServerUnavailable, "grpc_unavailable", "grpc_unavailable")]
    [InlineData(502, null, null, AttemptOutcome.ServerUnavailable, "grpc_unavailable", "grpc_unavailable")]
    [InlineData(429, null, null, AttemptOutcome.ServerUnavailable, "grpc_unavailable", "grpc_unavailable")]
    [InlineData(500, null, null, AttemptOutcome.ServerUnavailable, null, null)]
    [InlineData(404, null, null, AttemptOutcome.Answered, null, null)]
    public void A_grpc_answer_is_classified_by_its_status(int http, string? headerStatus, string? trailerStatus, AttemptOutcome outcome, string? failure, string? retryReason)
    {
        using HttpResponseMessage response = Answer(http, headerStatus, trailerStatus);

        Assert.Equal(new AttemptVerdict(outcome, failure, retryReason, NotSent: false), Grpc.ClassifyAnswer(response));
    }

    [Fact]
    public void The_trailers_of_an_answer_still_under_way_are_not_read()
    {
        // An answer under way carries no status yet; trailers it might get later belong to grpc-dotnet's reading.
        using HttpResponseMessage response = Answer(200, null, null);
        response.TrailingHeaders.TryAddWithoutValidation("grpc-status", "14");

        Assert.Equal(AttemptVerdict.Answered, Grpc.ClassifyAnswer(response));
    }

    [Theory]
    // method, body state, nothing sent -> may be sent again
    [InlineData(Other, "own", true, true)]
    [InlineData(Other, "own", false, false)]
    [InlineData(Idempotent, "own", false, false)]
    [InlineData(Idempotent, "kept, not started", false, true)]
    [InlineData(Idempotent, "kept whole", false, true)]
    [InlineData(Idempotent, "started, too large to keep", false, false)]
    [InlineData(Idempotent, "started, too large to keep", true, false)]
    [InlineData(Idempotent, "kept whole", true, true)]
    public async Task A_grpc_call_may_be_sent_again_when_its_body_can_be(string method, string body, bool notSent, bool expected)
    {
        using HttpRequestMessage request = await Request(method, body);

        Assert.Equal(expected, Grpc.MaySendAgain(request, notSent));
    }

    [Theory]
    // end of the attempt, method, body -> goes to another endpoint; counted for passive health as
    [InlineData("unavailable", Idempotent, "kept whole", true, AttemptOutcome.ServerUnavailable)]
    [InlineData("unavailable", Other, "own", false, AttemptOutcome.ServerUnavailable)]
    [InlineData("internal", Idempotent, "kept whole", false, AttemptOutcome.Answered)]
    [InlineData("refused", Other, "own", true, AttemptOutcome.ConnectionFailed)]
    [InlineData("socket reset", Other, "own", false, AttemptOutcome.TransportFailed)]
    [InlineData("socket reset", Idempotent, "kept whole", true, AttemptOutcome.TransportFailed)]
    [InlineData("socket reset", Idempotent, "started, too large to keep", false, AttemptOutcome.TransportFailed)]
    [InlineData("pool closed", Other, "own", true, AttemptOutcome.EndpointLeft)]
    public async Task A_grpc_attempt_is_retried_and_reported_as_its_verdict_says(string end, string method, string body, bool retried, AttemptOutcome health)
    {
        using HttpRequestMessage request = await Request(method, body);
        using HttpResponseMessage? response = end switch
        {
            "unavailable" => Answer(200, "14", null),
            "internal" => Answer(200, "13", null),
            _ => null,
        };

        AttemptVerdict verdict = response is null ? AttemptClassifier.ClassifyFailure(Error(end)) : Grpc.ClassifyAnswer(response);

        Assert.Equal(health, verdict.Outcome);
        Assert.Equal(retried, verdict.RetryReason is not null && Grpc.MaySendAgain(request, verdict.NotSent));
    }

    private static Exception Error(string name) => name switch
    {
        "refused" => new HttpRequestException(HttpRequestError.ConnectionError, "refused", new SocketException((int)SocketError.ConnectionRefused)),
        "socket reset" => new IOException("reset", new SocketException((int)SocketError.ConnectionReset)),
        "pool closed" => new ObjectDisposedException("SocketsHttpHandler"),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such failure in the table"),
    };

    private static HttpResponseMessage Answer(int http, string? headerStatus, string? trailerStatus)
    {
        var response = new HttpResponseMessage((HttpStatusCode)http) { Content = new ByteArrayContent([]) };
        if (headerStatus is not null)
        {
            response.Headers.TryAddWithoutValidation("grpc-status", headerStatus);
        }
        if (trailerStatus is not null)
        {
            response.Content = ResponseReadAhead.Buffered(response.Content, []);
            response.TrailingHeaders.TryAddWithoutValidation("grpc-status", trailerStatus);
        }
        return response;
    }

    private static async Task<HttpRequestMessage> Request(string method, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "http://greeter" + method);
        var own = new ByteArrayContent([0, 0, 0, 0, 1, 7]);
        switch (body)
        {
            case "own":
                request.Content = own;
                break;
            case "kept, not started":
                request.Content = new CallContent(own, replayLimit: 1024, unary: true);
                break;
            case "kept whole":
                request.Content = new CallContent(own, replayLimit: 1024, unary: true);
                await request.Content.CopyToAsync(Stream.Null);
                break;
            case "started, too large to keep":
                request.Content = new CallContent(own, replayLimit: 2, unary: false);
                await request.Content.CopyToAsync(Stream.Null);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(body), body, "no such body in the table");
        }
        return request;
    }
}
