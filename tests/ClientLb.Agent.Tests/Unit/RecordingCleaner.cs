using ClientLb.Agent.Conntrack;

namespace ClientLb.Agent.Tests.Unit;

internal sealed class RecordingCleaner : IConntrackCleaner
{
    public List<ConntrackFilter> Filters { get; } = [];

    public Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<ConntrackFilter> filters, CancellationToken cancellationToken = default)
    {
        Filters.AddRange(filters);
        return Task.FromResult<IReadOnlyList<string>>([]);
    }
}
