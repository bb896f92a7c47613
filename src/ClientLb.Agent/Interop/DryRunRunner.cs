namespace ClientLb.Agent.Interop;

/// <summary>Prints each transaction instead of running it (<c>--dry-run</c>); the kernel is never read or changed.</summary>
public sealed class DryRunRunner : INftablesRunner
{
    private readonly TextWriter _output;

    /// <summary>Creates a runner that writes to <paramref name="output"/>.</summary>
    public DryRunRunner(TextWriter output) => _output = output ?? throw new ArgumentNullException(nameof(output));

    /// <inheritdoc />
    public Task RunAsync(string commands, CancellationToken cancellationToken = default)
    {
        _output.Write("# transaction\n");
        _output.Write(commands);
        _output.Flush();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<string?> ListTableJsonAsync(string family, CancellationToken cancellationToken = default) => Task.FromResult<string?>(null);

    /// <inheritdoc />
    public Task<string?> GetElementsAsync(string family, string set, IReadOnlyList<string> keys, CancellationToken cancellationToken = default) => Task.FromResult<string?>(null);

    /// <inheritdoc />
    public Task<string?> ListSetJsonAsync(string family, string? set, bool map = false, CancellationToken cancellationToken = default) => Task.FromResult<string?>(null);

    /// <inheritdoc />
    public Task EnableRouteLocalnetAsync(CancellationToken cancellationToken = default)
    {
        _output.Write("# sysctl net.ipv4.conf.all.route_localnet=1\n");
        _output.Flush();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
