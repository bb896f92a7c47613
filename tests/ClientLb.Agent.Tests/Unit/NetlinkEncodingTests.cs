using ClientLb.Agent.Interop;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>
/// Which transactions the runner writes over netlink itself: element commands on the layout's sets with values in the
/// canonical form, and nothing else. Every other text (a skeleton, an unknown set, a malformed value, anything appended
/// to a command) is left to libnftables, which parses and reports it as before.
/// </summary>
public sealed class NetlinkEncodingTests
{
    private const string Indexed = "add element ip clientlb epx { 10.96.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080, 10.96.0.1 . tcp . 80 . 1 : 10.1.0.2 . 8080 }\n";

    [Fact]
    public void Element_commands_on_layout_sets_are_encoded_one_message_per_command()
    {
        var batch = new NetlinkElements();
        Assert.True(batch.TryEncode(Indexed + "delete element ip6 clientlb noep { fd00::1 . udp . 53 }\nadd element ip clientlb eps-3 { 10.96.0.3 . tcp . 80 . 0-32767 : 10.1.0.3 . 8080 }\n"));
        Assert.Equal(["add element ip clientlb epx", "delete element ip6 clientlb noep", "add element ip clientlb eps-3"], batch.Messages.Select(m => m.Command));
        Assert.Equal("delete element ip6 clientlb noep", batch.CommandOf(batch.Messages[1].Sequence));
        Assert.Null(batch.CommandOf(batch.BeginSequence));
    }

    [Theory]
    [InlineData("add table ip clientlb\n")]
    [InlineData("add table ip clientlb\n" + Indexed)]
    [InlineData("add element ip clientlb nosuchset { 10.96.0.1 . tcp . 80 }\n")]
    [InlineData("add element ip other epx { 10.96.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080 }\n")]
    [InlineData("add element ip clientlb epx { 10.96.0.1 . tcp . 80 : 10.1.0.1 . 8080 }\n")]
    [InlineData("add element ip clientlb epx { 10.96.0.1 . tcp . 80 . 0 }\n")]
    [InlineData("add element ip clientlb epx { 10.96.0.1 . icmp . 80 . 0 : 10.1.0.1 . 8080 }\n")]
    [InlineData("add element ip clientlb epx { 10.96.0.1 . tcp . 70000 . 0 : 10.1.0.1 . 8080 }\n")]
    [InlineData("add element ip clientlb epx { fd00::1 . tcp . 80 . 0 : 10.1.0.1 . 8080 }\n")]
    [InlineData("add element ip clientlb epx { 10.96.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080 }; flush ruleset\n")]
    [InlineData("add element ip clientlb epx { 10.96.0.1 . tcp . 80 . 3-1 : 10.1.0.1 . 8080 }\n")]
    [InlineData("add element ip clientlb noep {  }\n")]
    [InlineData("")]
    public void Anything_else_is_left_to_libnftables(string commands)
    {
        var batch = new NetlinkElements();
        Assert.False(batch.TryEncode(commands));
        Assert.Equal(0, batch.Length);
        Assert.Empty(batch.Messages);
    }

    [Fact]
    public void A_long_command_is_split_so_each_element_list_fits_a_netlink_attribute()
    {
        string elements = string.Join(", ", Enumerable.Range(0, 5000).Select(i => $"10.96.{i / 256}.{i % 256} . tcp . 80 . 0 : 10.1.0.1 . 8080"));
        var batch = new NetlinkElements();
        Assert.True(batch.TryEncode($"add element ip clientlb epx {{ {elements} }}\n"));
        Assert.True(batch.Messages.Count >= 4, $"{batch.Messages.Count} messages");
        Assert.All(batch.Messages, m => Assert.Equal("add element ip clientlb epx", m.Command));
    }
}
