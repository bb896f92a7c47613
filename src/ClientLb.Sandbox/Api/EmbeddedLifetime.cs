using Microsoft.Extensions.Hosting;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// A host lifetime that ignores Ctrl-C and SIGTERM: the sandbox lives inside someone else's process (a test
/// run), so it must not take over the process's signals as the default console lifetime does.
/// </summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
