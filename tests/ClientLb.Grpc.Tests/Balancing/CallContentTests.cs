using ClientLb.Grpc.Balancing;

namespace ClientLb.Grpc.Tests.Balancing;

/// <summary>The kept request body of an idempotent call: what another attempt may send again after a connection broke.</summary>
public sealed class CallContentTests
{
    // A gRPC unary request: 5-byte frame header and the message, written by grpc-dotnet in more than one write.
    private static readonly byte[] Header = [0, 0, 0, 0, 4];
    private static readonly byte[] Message = [1, 2, 3, 4];

    [Fact]
    public async Task A_unary_body_whose_first_write_breaks_is_still_kept_whole_and_sent_again_whole()
    {
        var content = new CallContent(new TwoWrites(), replayLimit: 1024, unary: true);

        await AssertBrokenPipe(content.CopyToAsync(new BrokenPipe()));

        Assert.True(content.Started);
        Assert.True(content.CanReplay, "a unary body is read whole before it is written, so a broken write leaves a whole copy");
        var second = new MemoryStream();
        await content.CopyToAsync(second);
        Assert.Equal([.. Header, .. Message], second.ToArray());
    }

    [Fact]
    public async Task A_streaming_body_whose_write_breaks_is_not_replayed()
    {
        var content = new CallContent(new TwoWrites(), replayLimit: 1024, unary: false);

        await AssertBrokenPipe(content.CopyToAsync(new BrokenPipe()));

        Assert.True(content.Started);
        Assert.False(content.CanReplay, "a streaming body is kept as it goes out: a broken write leaves only a part");
        await Assert.ThrowsAsync<InvalidOperationException>(() => content.CopyToAsync(new MemoryStream()));
    }

    [Fact]
    public async Task A_unary_body_over_the_replay_limit_is_sent_once_and_not_kept()
    {
        var content = new CallContent(new TwoWrites(), replayLimit: 6, unary: true);
        var sent = new MemoryStream();

        await content.CopyToAsync(sent);

        Assert.Equal([.. Header, .. Message], sent.ToArray());
        Assert.False(content.CanReplay);
    }

    private static async Task AssertBrokenPipe(Task send)
    {
        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => send);
        Assert.Contains("Broken pipe", (error.InnerException ?? error).Message);
    }

    private sealed class TwoWrites : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(Header);
            await stream.WriteAsync(Message);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private sealed class BrokenPipe : MemoryStream
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new IOException("Broken pipe"));

        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("Broken pipe");
    }
}
