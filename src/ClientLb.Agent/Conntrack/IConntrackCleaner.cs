namespace ClientLb.Agent.Conntrack;

/// <summary>Deletes conntrack entries that would keep sending a connectionless flow to a backend that is gone.</summary>
public interface IConntrackCleaner
{
    /// <summary>Deletes the entries matching each filter; returns one message per filter that could not be applied (empty when all were).</summary>
    Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<ConntrackFilter> filters, CancellationToken cancellationToken = default);
}
