using System.Text;
using ClientLb.Kubernetes.Client;

namespace ClientLb.Kubernetes.Tests.Client;

/// <summary>The watch response's line splitter, fed in chunks of every size, with lines longer than a read.</summary>
public class WatchLinesTests
{
    /// <summary>Returns at most a few bytes per read, like a slow network.</summary>
    private sealed class TrickleStream(byte[] data, Random random) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, random.Next(2) == 0 ? random.Next(1, 8) : random.Next(1, 70_000))], cancellationToken);
    }

    private static async Task<List<string>> ReadAll(Stream stream, int maxLineBytes = WatchLines.MaxLineBytes)
    {
        var lines = new List<string>();
        await foreach (string line in WatchLines.ReadAsync(stream, "endpointslices (default)", static l => Encoding.UTF8.GetString(l), CancellationToken.None, maxLineBytes))
        {
            lines.Add(line);
        }
        return lines;
    }

    [Fact]
    public async Task Lines_split_at_any_chunk_boundary_match_a_plain_split()
    {
        var random = new Random(3);
        for (int round = 0; round < 200; round++)
        {
            // Lines of 1 to 100,000 characters (many reads each, across buffer segments), multi-byte text, CRLF and LF.
            string[] lines = [.. Enumerable.Range(0, random.Next(1, 12)).Select(i => new string("aé{}\"x"[random.Next(6)], random.Next(1, random.Next(2) == 0 ? 300 : 100_000)))];
            string text = string.Concat(lines.Select(l => l + (random.Next(2) == 0 ? "\n" : "\r\n")));
            bool trailing = random.Next(3) == 0;
            if (trailing)
            {
                text += "tail";
            }
            var read = new List<string>();
            var stream = new TrickleStream(Encoding.UTF8.GetBytes(text), random);
            Task reading = Task.Run(async () =>
            {
                await foreach (string line in WatchLines.ReadAsync(stream, "endpointslices (default)", static l => Encoding.UTF8.GetString(l), CancellationToken.None))
                {
                    read.Add(line);
                }
            });
            if (trailing)
            {
                // Every event ends with a newline: a stream ending inside one was cut, after the complete lines.
                IOException cut = await Assert.ThrowsAsync<IOException>(() => reading);
                Assert.Contains("in the middle of an event (4 bytes without a newline)", cut.Message);
            }
            else
            {
                await reading;
            }
            Assert.Equal(lines, read);
        }
    }

    [Fact]
    public async Task A_line_past_the_limit_is_refused_naming_the_watch()
    {
        InvalidDataException error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAll(new MemoryStream(new byte[100_000]), maxLineBytes: 4096));
        Assert.Contains("endpointslices (default)", error.Message);
        Assert.Contains("longer than 4,096 bytes", error.Message);
    }

    [Fact]
    public async Task An_empty_stream_has_no_lines()
    {
        Assert.Empty(await ReadAll(new MemoryStream()));
    }
}
