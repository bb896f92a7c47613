using System.Net;
using System.Net.Http.Headers;
using ClientLb.Grpc.Protocol;
using Google.Protobuf;
using Greet;

namespace ClientLb.Grpc.Tests.Protocol;

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
    public void GrpcTimeout_Parses(string text, long ticks)
    {
        Assert.True(GrpcTimeout.TryParse(text, out TimeSpan timeout));
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
    public void GrpcTimeout_RejectsMalformedValues(string? text) => Assert.False(GrpcTimeout.TryParse(text, out _));

    [Theory]
    [InlineData(3_500, "3500m")]
    [InlineData(0.0004, "1u")]
    [InlineData(1.2, "2m")]
    [InlineData(200_000_000, "200000S")]
    [InlineData(0, "1n")]
    [InlineData(-5, "1n")]
    public void GrpcTimeout_FormatsRoundingUp_WithinEightDigits(double milliseconds, string expected)
    {
        string text = GrpcTimeout.Format(TimeSpan.FromMilliseconds(milliseconds));
        Assert.Equal(expected, text);
        Assert.True(GrpcTimeout.TryParse(text, out TimeSpan parsed));
        Assert.True(parsed >= TimeSpan.FromMilliseconds(milliseconds));
    }

    [Fact]
    public void Status_OfATrailersOnlyResponse_IsReadFromHeaders_AndItsMessagePercentDecoded()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        response.Headers.TryAddWithoutValidation("grpc-status", "14");
        response.Headers.TryAddWithoutValidation("grpc-message", "pod%20draining%3A%20%C3%BC");

        Assert.Equal(new GrpcStatus(GrpcStatusCode.Unavailable, "pod draining: ü"), GrpcStatus.FromHeaders(response.Headers));
    }

    [Theory]
    [InlineData("abc", GrpcStatusCode.Internal)]
    [InlineData("42", GrpcStatusCode.Unknown)]
    public void Status_ThatIsNotAKnownCode_MapsAsTheSpecSays(string value, GrpcStatusCode expected)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        response.Headers.TryAddWithoutValidation("grpc-status", value);
        Assert.Equal(expected, GrpcStatus.FromHeaders(response.Headers)?.Code);
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, null)]
    [InlineData(HttpStatusCode.BadGateway, GrpcStatusCode.Unavailable)]
    [InlineData(HttpStatusCode.ServiceUnavailable, GrpcStatusCode.Unavailable)]
    [InlineData(HttpStatusCode.GatewayTimeout, GrpcStatusCode.Unavailable)]
    [InlineData(HttpStatusCode.NotFound, GrpcStatusCode.Unimplemented)]
    [InlineData(HttpStatusCode.InternalServerError, GrpcStatusCode.Unknown)]
    public void HttpStatus_MapsToGrpcStatus(HttpStatusCode status, GrpcStatusCode? expected) =>
        Assert.Equal(expected, GrpcStatus.FromHttpStatus(status)?.Code);

    [Fact]
    public async Task Framing_RoundTrips_AndRejectsTruncatedCompressedAndOversizedMessages()
    {
        var reply = new HelloReply { Message = "hi", Server = "b1", Sequence = 7 };
        byte[] frame = GrpcFraming.Frame(reply);
        Assert.Equal(new byte[] { 0, 0, 0, 0, (byte)reply.CalculateSize() }, frame[..5]);
        Assert.Equal(reply, await Read(frame));
        Assert.Null(await Read([]));

        Assert.Contains("inside a message prefix", (await Assert.ThrowsAsync<GrpcProtocolException>(() => Read(frame[..3]))).Message);
        Assert.Contains("inside a message (", (await Assert.ThrowsAsync<GrpcProtocolException>(() => Read(frame[..^1]))).Message);
        byte[] compressed = [.. frame];
        compressed[0] = 1;
        Assert.Contains("compressed", (await Assert.ThrowsAsync<GrpcProtocolException>(() => Read(compressed))).Message);
        Assert.Contains("limit is 3", (await Assert.ThrowsAsync<GrpcProtocolException>(() => Read(frame, maxSize: 3))).Message);
    }

    private static async Task<HelloReply?> Read(byte[] data, int maxSize = GrpcFraming.DefaultMaxMessageSize) =>
        await GrpcFraming.ReadAsync(new MemoryStream(data), HelloReply.Parser, maxSize, CancellationToken.None);
}
