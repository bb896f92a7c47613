using System.Text;
using ClientLb.Agent.Ruleset;

namespace ClientLb.Agent.State;

/// <summary>
/// Writes a sync's element changes as nft transaction texts: one transaction, or on a large sync several, each holding
/// whole services in service order, with the prologue (skeleton, affinity sets) leading and the epilogue trailing.
/// </summary>
/// <param name="transactions">Where the transactions go, in the order they are to be committed.</param>
/// <param name="skeletonApplied">The table's skeleton is programmed already (else the prologue declares it: a cold start or a restart).</param>
/// <param name="restart">The agent restarts over a table it programmed before: its elements must land with the skeleton, in one transaction.</param>
/// <param name="chunkElements">How many element changes make a sync large enough to split.</param>
internal sealed class TransactionWriter(List<string> transactions, bool skeletonApplied, bool restart, int chunkElements)
{
    /// <summary>Appends the transactions that delete <paramref name="deletes"/> and add <paramref name="adds"/> (each tagged with its service's group; -1: a leftover found in the kernel) between the prologue and the epilogue.</summary>
    public void Write(string prologue, string epilogue, List<(int Group, Element Element)> adds, List<(int Group, Element Element)> deletes)
    {
        if (adds.Count + deletes.Count == 0 && prologue.Length == 0 && epilogue.Length == 0)
        {
            return;
        }
        // Never split a restart: its first transaction re-declares the endpoint maps, and every element they must hold
        // has to land in that same transaction. Nor a sync that deletes leftovers found in the kernel.
        bool chunked = !restart && deletes.All(d => d.Group >= 0) && adds.Count + deletes.Count > chunkElements;
        if (!chunked)
        {
            transactions.Add(RenderOne(prologue, epilogue, deletes.Select(d => d.Element), adds.Select(a => a.Element)));
            return;
        }
        // Whole groups (services) per transaction, in service order; the prologue leads, the epilogue trails. A cold start's
        // skeleton goes alone, first: the transactions after it are element commands only, which the runner writes to the
        // kernel without libnftables' parser (nothing was programmed before, so no service sees the gap).
        if (!skeletonApplied && prologue.Length > 0)
        {
            transactions.Add(prologue);
            prologue = "";
        }
        // Deltas are enumerated about in change order already; a stable sort by group makes it exact.
        List<(int Group, Element Element)> orderedDeletes = [.. deletes.OrderBy(static d => d.Group)];
        List<(int Group, Element Element)> orderedAdds = [.. adds.OrderBy(static a => a.Group)];
        var chunkDeletes = new List<Element>();
        var chunkAdds = new List<Element>();
        string head = prologue;
        int nextDelete = 0, nextAdd = 0;
        while (nextDelete < orderedDeletes.Count || nextAdd < orderedAdds.Count)
        {
            int group = Math.Min(
                nextDelete < orderedDeletes.Count ? orderedDeletes[nextDelete].Group : int.MaxValue,
                nextAdd < orderedAdds.Count ? orderedAdds[nextAdd].Group : int.MaxValue);
            for (; nextDelete < orderedDeletes.Count && orderedDeletes[nextDelete].Group == group; nextDelete++)
            {
                chunkDeletes.Add(orderedDeletes[nextDelete].Element);
            }
            for (; nextAdd < orderedAdds.Count && orderedAdds[nextAdd].Group == group; nextAdd++)
            {
                chunkAdds.Add(orderedAdds[nextAdd].Element);
            }
            if (chunkDeletes.Count + chunkAdds.Count >= chunkElements)
            {
                transactions.Add(RenderOne(head, "", chunkDeletes, chunkAdds));
                head = "";
                chunkDeletes.Clear();
                chunkAdds.Clear();
            }
        }
        if (chunkDeletes.Count + chunkAdds.Count > 0 || epilogue.Length > 0 || head.Length > 0)
        {
            transactions.Add(RenderOne(head, epilogue, chunkDeletes, chunkAdds));
        }
    }

    private static string RenderOne(string prologue, string epilogue, IEnumerable<Element> deletes, IEnumerable<Element> adds)
    {
        var text = new StringBuilder(prologue);
        foreach (IGrouping<Container, Element> set in deletes.GroupBy(e => e.Container))
        {
            Layout.AppendElements(text, "delete", set.Key, set.Select(e => e.Text).ToList());
        }
        foreach (IGrouping<Container, Element> set in adds.GroupBy(e => e.Container))
        {
            Layout.AppendElements(text, "add", set.Key, set.Select(e => e.Text).ToList());
        }
        text.Append(epilogue);
        return text.ToString();
    }
}
