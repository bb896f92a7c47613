using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Tests.Protocol;

public class MalformedMessageTests
{
    // A response header: ID 1, QR set, the given section counts.
    private static byte[] Message(int qd, int an, params byte[] body) =>
        [0, 1, 0x81, 0x80, 0, (byte)qd, 0, (byte)an, 0, 0, 0, 0, .. body];

    private static readonly byte[] QuestionAtTwelve = [3, (byte)'w', (byte)'e', (byte)'b', 0, 0, 1, 0, 1];

    private static DnsFormatException Fails(byte[] message) => Assert.Throws<DnsFormatException>(() => DnsMessage.Decode(message));

    [Fact]
    public void A_message_shorter_than_the_header_names_the_header_field()
    {
        DnsFormatException ex = Fails([0, 1, 0x81]);
        Assert.Equal("header.flags", ex.Field);
        Assert.Contains("header.flags", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pointer_to_itself_is_a_loop()
    {
        DnsFormatException ex = Fails(Message(1, 0, 0xC0, 12, 0, 1, 0, 1));
        Assert.Equal("question[0].name", ex.Field);
        Assert.Contains("does not point backwards", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_pointers_that_point_at_each_other_are_a_loop()
    {
        // Offset 12: label "a" then a pointer to 18; offset 18: a pointer back to 12.
        byte[] message = Message(1, 0, 1, (byte)'a', 0xC0, 18, 0, 1, 0xC0, 12, 0, 1);
        Assert.Contains("does not point backwards", Fails(message).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_forward_pointer_is_rejected()
    {
        byte[] message = Message(1, 0, 0xC0, 20, 0, 1, 0, 1, 0, 0, 3, (byte)'w', (byte)'e', (byte)'b', 0);
        Assert.Contains("forward", Fails(message).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pointer_cut_off_by_the_end_of_the_message_is_rejected()
    {
        Assert.Contains("cut off", Fails(Message(1, 0, 0xC0)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_longer_than_the_remaining_bytes_is_rejected()
    {
        DnsFormatException ex = Fails(Message(1, 0, 40, (byte)'a', (byte)'b'));
        Assert.Contains("a label of 40 bytes runs past the end", ex.Reason, StringComparison.Ordinal);
        Assert.Equal(12, ex.Offset);
    }

    [Fact]
    public void A_name_over_255_bytes_built_from_pointers_is_rejected()
    {
        // Five questions, each a 60-byte label followed by a pointer to the previous question's name:
        // every piece is legal, but the fifth name is 5 x 61 + 1 = 306 bytes long.
        var body = new List<byte>();
        int previous = -1;
        for (int i = 0; i < 5; i++)
        {
            int at = 12 + body.Count;
            body.Add(60);
            body.AddRange(Enumerable.Repeat((byte)'x', 60));
            body.AddRange(previous < 0 ? [0] : [(byte)(0xC0 | (previous >> 8)), (byte)previous]);
            body.AddRange(new byte[] { 0, 1, 0, 1 });
            previous = at;
        }

        DnsFormatException ex = Fails(Message(5, 0, [.. body]));

        Assert.Equal("question[4].name", ex.Field);
        Assert.Contains("longer than 255", ex.Reason, StringComparison.Ordinal);
        Assert.Equal(4, DnsMessage.Decode(Message(4, 0, [.. body])).Questions.Count);
    }

    [Fact]
    public void Extended_label_types_are_rejected()
    {
        Assert.Contains("label type 0x40", Fails(Message(1, 0, 0x41, 0)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RDLENGTH_past_the_end_names_the_record()
    {
        byte[] message = Message(1, 1, [.. QuestionAtTwelve, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 200, 10, 0, 0, 1]);
        DnsFormatException ex = Fails(message);
        Assert.Equal("answer[0].rdlength", ex.Field);
        Assert.Contains("RDLENGTH 200", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_A_record_with_five_bytes_of_data_is_rejected()
    {
        byte[] message = Message(1, 1, [.. QuestionAtTwelve, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 5, 10, 0, 0, 1, 7]);
        DnsFormatException ex = Fails(message);
        Assert.Equal("answer[0].rdata", ex.Field);
        Assert.Contains("needs 4 bytes", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_SRV_whose_target_overruns_RDLENGTH_is_rejected()
    {
        // RDLENGTH 7 covers priority/weight/port and one byte of the 5-byte target "\3web\0".
        byte[] message = Message(1, 1, [.. QuestionAtTwelve, 0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 5, 0, 7, 0, 0, 0, 1, 0, 80, 3, (byte)'w', (byte)'e', (byte)'b', 0]);
        Assert.Contains("RDLENGTH says 7", Fails(message).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Counts_that_promise_more_records_than_the_bytes_hold_fail_without_allocating_for_them()
    {
        byte[] message = [0, 1, 0x81, 0x80, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        long before = GC.GetAllocatedBytesForCurrentThread();
        DnsFormatException ex = Fails(message);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal("answer[0].name", ex.Field);
        Assert.True(allocated < 16_384, $"allocated {allocated} bytes for a 12-byte message");
    }

    [Fact]
    public void A_second_OPT_record_or_one_outside_the_additional_section_is_rejected()
    {
        byte[] opt = [0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0];
        byte[] two = [0, 1, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 2, .. opt, .. opt];
        byte[] inAnswer = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, .. opt];

        Assert.Contains("OPT", Fails(two).Reason, StringComparison.Ordinal);
        Assert.Equal("answer[0]", Fails(inAnswer).Field);
        Assert.Equal(1232, DnsMessage.Decode([0, 1, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, .. opt]).Edns!.UdpPayloadSize);
    }

    [Fact]
    public void A_TTL_with_the_top_bit_set_reads_as_zero()
    {
        byte[] message = Message(1, 1, [.. QuestionAtTwelve, 0xC0, 12, 0, 1, 0, 1, 0x80, 0, 0, 5, 0, 4, 10, 0, 0, 1]);
        Assert.Equal(0u, DnsMessage.Decode(message).Answers[0].Ttl);
    }

    [Fact]
    public void Trailing_bytes_after_the_counted_records_are_ignored()
    {
        byte[] message = Message(1, 0, [.. QuestionAtTwelve, 0xDE, 0xAD]);
        Assert.Equal("web", DnsMessage.Decode(message).Questions[0].Name);
    }
}
