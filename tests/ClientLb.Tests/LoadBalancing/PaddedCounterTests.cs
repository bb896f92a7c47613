using System.Runtime.CompilerServices;
using ClientLb.Balancing.Policies;

namespace ClientLb.Tests.LoadBalancing;

public class PaddedCounterTests
{
    // A picker keeps the counter as a field; its other fields lie before or after the struct, so the count needs a full
    // cache line (64 bytes) of padding on each side to share a line with none of them.
    [Fact]
    public void The_count_has_a_cache_line_of_padding_on_either_side()
    {
        var counter = new PaddedCounter(7);
        nint before = Unsafe.ByteOffset(ref Unsafe.As<PaddedCounter, byte>(ref counter), ref Unsafe.As<int, byte>(ref counter.Value));
        nint after = Unsafe.SizeOf<PaddedCounter>() - before - sizeof(int);
        Assert.True(before >= 64, $"{before} bytes before the count");
        Assert.True(after >= 64, $"{after} bytes after the count");
        Assert.Equal(7, counter.Value);
        Assert.Equal(8, Interlocked.Increment(ref counter.Value));
    }
}
