using ClientLb.Agent.Interop;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>Records transactions instead of running them; can return a kernel listing and fail on demand.</summary>
internal sealed class RecordingRunner : INftablesRunner
{
    public List<string> Transactions { get; } = [];

    public Dictionary<string, string> Listings { get; } = [];

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

    public void Dispose()
    {
    }
}
