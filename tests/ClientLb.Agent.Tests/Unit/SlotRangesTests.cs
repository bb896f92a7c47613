using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.Tests.Unit;

public sealed class SlotRangesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(1000)]
    [InlineData(8192)]
    public void Equal_weights_cover_every_slot_once_in_near_equal_ranges(int count)
    {
        (int Low, int High)[] ranges = SlotRanges.Split(Enumerable.Repeat(1, count).ToArray());
        Assert.Equal(0, ranges[0].Low);
        Assert.Equal(65535, ranges[^1].High);
        for (int i = 1; i < count; i++)
        {
            Assert.Equal(ranges[i - 1].High + 1, ranges[i].Low);
        }
        int[] sizes = [.. ranges.Select(r => r.High - r.Low + 1)];
        Assert.True(sizes.Max() - sizes.Min() <= 1, $"sizes {sizes.Min()}..{sizes.Max()}");
    }

    [Fact]
    public void Weights_are_proportional_and_every_endpoint_keeps_at_least_one_slot()
    {
        (int Low, int High)[] ranges = SlotRanges.Split([1, 3]);
        Assert.Equal((0, 16383), ranges[0]);
        Assert.Equal((16384, 65535), ranges[1]);

        int[] skewed = [1_000_000, .. Enumerable.Repeat(1, 100)];
        ranges = SlotRanges.Split(skewed);
        Assert.All(ranges, r => Assert.True(r.High >= r.Low));
        Assert.Equal(65535, ranges[^1].High);
    }

    [Fact]
    public void More_endpoints_than_slots_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SlotRanges.Split(new int[65537]));
        Assert.Throws<ArgumentOutOfRangeException>(() => SlotRanges.Split([]));
    }
}
