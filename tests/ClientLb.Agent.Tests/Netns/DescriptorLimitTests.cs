using ClientLb.Agent.Interop;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.Tests.Netns;

/// <summary>
/// libnftables waits on its per-command netlink socket with select(), which glibc aborts on a descriptor at or above
/// 1,024. An agent whose relay serves many clients has that many open: its transactions must still go through.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class DescriptorLimitTests : IDisposable
{
    private readonly string _namespace = "clbfd-" + Guid.NewGuid().ToString("N")[..8];

    public DescriptorLimitTests()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("The descriptor limit test needs root (ip netns, nftables). Run the tests as root.");
        }
        Shell.Must("ip", "netns", "add", _namespace);
    }

    public void Dispose() => Shell.Run("ip", "netns", "del", _namespace);

    [Fact]
    public async Task A_transaction_goes_through_while_every_descriptor_below_1024_is_in_use()
    {
        // The agent's first context is made at its start, while few descriptors are open.
        using (new LibNftablesRunner(_namespace, elementsOverNetlink: false))
        {
        }
        var filler = new List<FileStream>();
        try
        {
            // Take every free descriptor below 1,024 (the runner's own reserve aside), as a busy relay's connections would.
            while (true)
            {
                var file = new FileStream("/dev/null", FileMode.Open, FileAccess.Read);
                filler.Add(file);
                if (file.SafeFileHandle.DangerousGetHandle() >= LowDescriptorReserve.SelectLimit)
                {
                    break;
                }
            }

            // A context made now (a namespace joined later, a restarted nft thread): its socket must still be below 1,024.
            using var runner = new LibNftablesRunner(_namespace, elementsOverNetlink: false);
            await runner.RunAsync($"add table ip {Layout.TableName}\nadd chain ip {Layout.TableName} probe\n");
            string? listed = await runner.ListTableJsonAsync("ip");

            Assert.Contains("\"probe\"", listed);
        }
        finally
        {
            filler.ForEach(f => f.Dispose());
        }
    }
}
