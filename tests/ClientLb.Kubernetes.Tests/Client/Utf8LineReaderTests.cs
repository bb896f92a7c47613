using System.Text;
using ClientLb.Kubernetes.Client;

namespace ClientLb.Kubernetes.Tests.Client;

/// <summary>The watch response's line splitter, fed in chunks of every size, with lines longer than its buffer.</summary>
public class Utf8LineReaderTests
{
    /// <summary>Returns at most a few bytes per read, like a slow network.</summary>
    private sealed class TrickleStream(byte[] data, Random random) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, random.Next(1, 8))], cancellationToken);
    }

    private static async Task<List<string>> ReadAll(Stream stream, int initialSize)
    {
        using var reader = new Utf8LineReader(stream, "test", initialSize);
        var lines = new List<string>();
        while (await reader.ReadLineAsync(CancellationToken.None) is ReadOnlyMemory<byte> line)
        {
            lines.Add(Encoding.UTF8.GetString(line.Span));
        }
        return lines;
    }

    [Fact]
    public async Task Lines_split_at_any_chunk_boundary_match_a_plain_split()
    {
        var random = new Random(3);
        for (int round = 0; round < 200; round++)
        {
            // Lines of 0 to 300 characters (some longer than the 64-byte start buffer), multi-byte text, CRLF and LF.
            string[] lines = [.. Enumerable.Range(0, random.Next(1, 12)).Select(i => new string("aé{}\"x"[random.Next(6)], random.Next(0, 300)))];
            string text = string.Concat(lines.Select(l => l + (random.Next(2) == 0 ? "\n" : "\r\n")));
            bool trailing = random.Next(3) == 0;
            if (trailing)
            {
                text += "tail";
            }
            List<string> read = await ReadAll(new TrickleStream(Encoding.UTF8.GetBytes(text), random), initialSize: 64);
            Assert.Equal(trailing ? [.. lines, "tail"] : lines, read);
        }
    }

    [Fact]
    public async Task A_line_past_the_limit_is_refused_naming_the_watch()
    {
        using var reader = new Utf8LineReader(new MemoryStream(new byte[10_000]), "endpointslices (default)", initialSize: 16, maxLineBytes: 4096);
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadLineAsync(CancellationToken.None));
        Assert.Contains("endpointslices (default)", error.Message);
        Assert.Contains("4,096 bytes", error.Message);
    }

    [Fact]
    public async Task An_empty_stream_has_no_lines()
    {
        Assert.Empty(await ReadAll(new MemoryStream(), 16));
    }
}
