using ClientLb.Agent.Interop;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>Records transactions instead of running them; can return a kernel listing and fail on demand.</summary>
internal sealed class RecordingRunner : INftablesRunner
{
    public List<string> Transactions { get; } = [];

    public Dictionary<string, string> Listings { get; } = [];

    /// <summary>Per-set listings by "family name" ("ip gen"; "ip" + " " alone for the terse declarations), and what was asked.</summary>
    public Dictionary<string, string> SetListings { get; } = [];

    public List<string> SetLists { get; } = [];

    public Func<string, bool>? FailWhen { get; set; }

    public int Lists { get; private set; }

    public string Last => Transactions[^1];

    public Task RunAsync(string commands, CancellationToken cancellationToken = default)
    {
        if (FailWhen?.Invoke(commands) == true)
        {
            throw new NftablesException("Error: injected failure");
        }
        Transactions.Add(commands);
        return Task.CompletedTask;
    }

    public Task<string?> ListTableJsonAsync(string family, CancellationToken cancellationToken = default)
    {
        Lists++;
        return Task.FromResult(Listings.GetValueOrDefault(family));
    }

    public Task<string?> ListSetJsonAsync(string family, string? set, bool map = false, CancellationToken cancellationToken = default)
    {
        string key = family + " " + set;
        SetLists.Add(key);
        return Task.FromResult(SetListings.GetValueOrDefault(key));
    }

    public Task<string?> GetElementsAsync(string family, string set, IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        Task.FromResult<string?>(null);

    /// <summary>How often the agent asked for route_localnet, and before how many transactions the first time.</summary>
    public int RouteLocalnetCalls { get; private set; }

    public int TransactionsBeforeRouteLocalnet { get; private set; } = -1;

    public Task EnableRouteLocalnetAsync(CancellationToken cancellationToken = default)
    {
        if (RouteLocalnetCalls++ == 0)
        {
            TransactionsBeforeRouteLocalnet = Transactions.Count;
        }
        return Task.CompletedTask;
    }

    public void Dispose()
    {
    }
}
