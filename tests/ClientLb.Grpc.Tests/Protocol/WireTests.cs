using System.Net;
using ClientLb.Grpc.Balancing;
using Grpc.Core;

namespace ClientLb.Grpc.Tests.Protocol;

/// <summary>The two things the HttpHandler path reads of the gRPC wire itself: the call's deadline and whether an answer is UNAVAILABLE.</summary>
public sealed class WireTests
{
    [Theory]
    [InlineData("5S", 50_000_000)]
    [InlineData("250m", 2_500_000)]
    [InlineData("3u", 30)]
    [InlineData("100n", 1)]
    [InlineData("2M", 1_200_000_000)]
    [InlineData("1H", 36_000_000_000)]
    [InlineData("99999999m", 999_999_990_000)]
    public void DeadlineHeader_Parses(string text, long ticks)
    {
        Assert.True(GrpcHeaders.TryParseTimeout(text, out TimeSpan timeout));
        Assert.Equal(ticks, timeout.Ticks);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("5")]
    [InlineData("5s")]
    [InlineData("-5S")]
    [InlineData("123456789m")]
    [InlineData("1.5S")]
    [InlineData(" 5S")]
    public void DeadlineHeader_RejectsMalformedValues(string? text) => Assert.False(GrpcHeaders.TryParseTimeout(text, out _));

    [Theory]
    [InlineData(3_500, "3500m")]
    [InlineData(0.0004, "1m")]
    [InlineData(1.2, "2m")]
    [InlineData(200_000_000, "200000S")]
    [InlineData(0, "1m")]
    [InlineData(-5, "1m")]
    public void DeadlineHeader_FormatsWhatIsLeft_InMilliseconds_RoundingUp_WithinEightDigits(double milliseconds, string expected)
    {
        string text = GrpcHeaders.FormatTimeout(TimeSpan.FromMilliseconds(milliseconds));
        Assert.Equal(expected, text);
        Assert.True(GrpcHeaders.TryParseTimeout(text, out TimeSpan parsed));
        Assert.True(parsed >= TimeSpan.FromMilliseconds(milliseconds));
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, null, null)]
    [InlineData(HttpStatusCode.OK, "14", StatusCode.Unavailable)]
    [InlineData(HttpStatusCode.OK, "5", StatusCode.NotFound)]
    [InlineData(HttpStatusCode.OK, "abc", StatusCode.Unknown)]
    [InlineData(HttpStatusCode.BadGateway, null, StatusCode.Unavailable)]
    [InlineData(HttpStatusCode.ServiceUnavailable, null, StatusCode.Unavailable)]
    [InlineData(HttpStatusCode.GatewayTimeout, null, StatusCode.Unavailable)]
    [InlineData(HttpStatusCode.TooManyRequests, null, StatusCode.Unavailable)]
    [InlineData(HttpStatusCode.NotFound, null, StatusCode.Unknown)]
    public void CallStatus_EndsTheCallOnAStatusInTheHeaders_AndKnowsUnavailable(HttpStatusCode http, string? grpcStatus, StatusCode? expected)
    {
        using var response = new HttpResponseMessage(http);
        if (grpcStatus is not null)
        {
            response.Headers.TryAddWithoutValidation("grpc-status", grpcStatus);
        }
        Assert.Equal(expected, GrpcHeaders.StatusOfHeaders(response));
    }

    [Fact]
    public void AWrappingContent_AdoptsTheInnerContentsHeaders_WithoutCopyingThem()
    {
        // The response wrapper of every HttpHandler-path call: a copy would cost a header collection per call.
        using var inner = new ByteArrayContent([0, 0, 0, 0, 0]);
        inner.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        using var wrapper = new ByteArrayContent([]);

        ContentHeaders.Adopt(wrapper, inner);

        Assert.Same(inner.Headers, wrapper.Headers);
        Assert.Equal("application/grpc", wrapper.Headers.ContentType?.MediaType);
    }
}
