using System.Diagnostics;
using ClientLb.Agent.Interop;

namespace ClientLb.Agent.Conntrack;

/// <summary>
/// Deletes entries with Debian's <c>conntrack -D</c> (package conntrack), in the agent's network namespace through
/// <c>ip netns exec NAME</c>. One process per filter: cleanups happen only when a UDP/SCTP backend leaves or a service
/// scales to or from zero, so the process cost is off the TCP hot path; the tool's filters (orig-dst, reply-src) are
/// exactly kube-proxy's. <c>conntrack</c> exits 1 with "0 flow entries have been deleted" when nothing matched: not an error.
/// </summary>
public sealed class ConntrackTool : IConntrackCleaner
{
    private readonly string _conntrack;
    private readonly string? _namespace;

    /// <summary>Creates the cleaner.</summary>
    /// <param name="networkNamespace">The named namespace to clean, or null for the process's own.</param>
    /// <param name="conntrackPath">The <c>conntrack</c> executable.</param>
    public ConntrackTool(string? networkNamespace = null, string conntrackPath = "conntrack")
    {
        if (networkNamespace is not null && NetworkNamespaceName.Check(networkNamespace) is string error)
        {
            throw new ArgumentException(error, nameof(networkNamespace));
        }
        _namespace = networkNamespace;
        _conntrack = conntrackPath ?? throw new ArgumentNullException(nameof(conntrackPath));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<ConntrackFilter> filters, CancellationToken cancellationToken = default)
    {
        var failures = new List<string>();
        foreach (ConntrackFilter filter in filters)
        {
            var start = new ProcessStartInfo(_namespace is null ? _conntrack : "ip")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (_namespace is not null)
            {
                foreach (string a in (string[])["netns", "exec", _namespace, _conntrack])
                {
                    start.ArgumentList.Add(a);
                }
            }
            foreach (string a in filter.ToArguments())
            {
                start.ArgumentList.Add(a);
            }
            try
            {
                using Process process = Process.Start(start) ?? throw new InvalidOperationException("the process did not start");
                Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
                await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                string error = await stderr.ConfigureAwait(false);
                bool nothingMatched = process.ExitCode == 1 && error.Contains("0 flow entries", StringComparison.Ordinal);
                if (process.ExitCode != 0 && !nothingMatched)
                {
                    failures.Add($"conntrack -D for {filter} failed (exit {process.ExitCode}): {error.Trim()}");
                }
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                failures.Add($"conntrack -D for {filter} could not run ({_conntrack}: {e.Message}; install Debian's conntrack package)");
            }
        }
        return failures;
    }
}
