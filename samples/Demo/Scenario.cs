namespace ClientLb.Samples.Demo;

/// <summary>Something to balance over, and what happens to it while the load runs.</summary>
internal interface IScenario : IAsyncDisposable
{
    /// <summary>One line saying what runs where.</summary>
    string Description { get; }

    /// <summary>The client that balances (its BaseAddress names the service).</summary>
    HttpClient Client { get; }

    /// <summary>Changes to make at a share (0-1) of the run, in order.</summary>
    IReadOnlyList<(double At, string What, Func<Task> Do)> Events { get; }

    /// <summary>How to label a backend in the chart (e.g. mark one that is gone).</summary>
    string Label(string backend);
}
