using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace ClientLb.Agent.Interop;

/// <summary>
/// Talks to the kernel through <c>libnftables.so.1</c> on one dedicated thread. With a network namespace name the thread
/// first joins <c>/var/run/netns/NAME</c> (setns, CLONE_NEWNET), so the contexts it creates, and every transaction, act
/// on that namespace only; the rest of the process stays where it is.
/// </summary>
public sealed class LibNftablesRunner : INftablesRunner
{
    private readonly BlockingCollection<Action<Contexts>> _work = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string? _namespace;
    private readonly bool _elementsOverNetlink;

    private const string RouteLocalnetPath = "/proc/sys/net/ipv4/conf/all/route_localnet";

    /// <summary>
    /// Starts the thread; <paramref name="networkNamespace"/> null means the process's own namespace.
    /// <paramref name="elementsOverNetlink"/>: a transaction made only of element commands is written to the kernel over
    /// nfnetlink directly (<see cref="NetlinkElements"/>), skipping libnftables' parser and ruleset cache; false sends
    /// everything through libnftables (the tests compare both).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a plain namespace name.</exception>
    /// <exception cref="NftablesException">The namespace cannot be joined or libnftables cannot be loaded.</exception>
    public LibNftablesRunner(string? networkNamespace = null, bool elementsOverNetlink = true)
    {
        _elementsOverNetlink = elementsOverNetlink;
        if (networkNamespace is not null && NetworkNamespaceName.Check(networkNamespace) is string error)
        {
            throw new ArgumentException(error, nameof(networkNamespace));
        }
        _namespace = networkNamespace;
        _thread = new Thread(Loop) { IsBackground = true, Name = "clientlb-nft" + (networkNamespace is null ? "" : ":" + networkNamespace) };
        _thread.Start();
        try
        {
            _started.Task.GetAwaiter().GetResult();
        }
        catch
        {
            _work.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public Task RunAsync(string commands, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        return Enqueue(contexts =>
        {
            if (contexts.Netlink is not null && contexts.Elements.TryEncode(commands))
            {
                contexts.Netlink.Send(contexts.Elements);
            }
            else
            {
                Run(contexts.Commands, commands, out _);
            }
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> ListTableJsonAsync(string family, CancellationToken cancellationToken = default) =>
        ListJsonAsync(family, $"list table {family} {Ruleset.Layout.TableName}", terse: false, cancellationToken);

    /// <inheritdoc />
    public Task<string?> ListSetJsonAsync(string family, string? set, bool map = false, CancellationToken cancellationToken = default)
    {
        if (set is not null && (set.Length == 0 || !set.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
        {
            throw new ArgumentException($"The set name '{set}' is not one of the layout's names.", nameof(set));
        }
        return set is null
            ? ListJsonAsync(family, $"list sets table {family} {Ruleset.Layout.TableName}", terse: true, cancellationToken)
            : ListJsonAsync(family, $"list {(map ? "map" : "set")} {family} {Ruleset.Layout.TableName} {set}", terse: false, cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> GetElementsAsync(string family, string set, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (family is not ("ip" or "ip6"))
        {
            throw new ArgumentException($"The family '{family}' is not ip or ip6.", nameof(family));
        }
        if (set.Length == 0 || !set.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') ||
            keys.Any(k => k.Length == 0 || !k.All(c => char.IsAsciiLetterOrDigit(c) || c is ' ' or '.' or ':')))
        {
            throw new ArgumentException("The set name or a key is not in the layout's canonical form.", nameof(keys));
        }
        string command = $"get element {family} {Ruleset.Layout.TableName} {set} {{ {string.Join(", ", keys)} }}";
        return Enqueue<string?>(contexts =>
        {
            try
            {
                Run(contexts.Commands, command, out string output);
                return output;
            }
            catch (NftablesException e) when (e.Message.Contains("No such file or directory", StringComparison.Ordinal))
            {
                return null;
            }
        }, cancellationToken);
    }

    private Task<string?> ListJsonAsync(string family, string command, bool terse, CancellationToken cancellationToken)
    {
        if (family is not ("ip" or "ip6"))
        {
            throw new ArgumentException($"The family '{family}' is not ip or ip6.", nameof(family));
        }
        return Enqueue<string?>(contexts =>
        {
            if (terse)
            {
                NativeMethods.nft_ctx_output_set_flags(contexts.Json, NativeMethods.OutputJson | NativeMethods.OutputTerse);
            }
            try
            {
                Run(contexts.Json, command, out string output);
                return output;
            }
            catch (NftablesException e) when (e.Message.Contains("No such file or directory", StringComparison.Ordinal))
            {
                return null;
            }
            finally
            {
                if (terse)
                {
                    NativeMethods.nft_ctx_output_set_flags(contexts.Json, NativeMethods.OutputJson);
                }
            }
        }, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Written on the runner's thread, which did setns into the namespace: /proc/sys/net resolves to the network
    /// namespace of the task that opens the file, so this changes the programmed namespace only, never the process's own
    /// (unless that is the one programmed). No child process is needed, unlike <c>ip netns exec NAME sysctl</c>.
    /// </remarks>
    public Task EnableRouteLocalnetAsync(CancellationToken cancellationToken = default) =>
        Enqueue(_ =>
        {
            try
            {
                // Synchronous open and write on this thread (a FileStream opens on the calling thread).
                File.WriteAllText(RouteLocalnetPath, "1\n");
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new NftablesException($"{RouteLocalnetPath} cannot be written in {(_namespace is null ? "the agent's namespace" : "'" + _namespace + "'")}: {e.Message}", e);
            }
        }, cancellationToken);

    /// <summary>Stops the thread and frees the contexts.</summary>
    public void Dispose()
    {
        if (!_work.IsAddingCompleted)
        {
            _work.CompleteAdding();
            _thread.Join();
            _work.Dispose();
        }
    }

    private Task<T> Enqueue<T>(Func<Contexts, T> work, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_work.IsAddingCompleted, this);
        cancellationToken.ThrowIfCancellationRequested();
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(contexts =>
        {
            try
            {
                done.SetResult(work(contexts));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, cancellationToken);
        return done.Task;
    }

    private void Loop()
    {
        Contexts contexts;
        try
        {
            if (_namespace is not null)
            {
                JoinNamespace(_namespace);
            }
            contexts = LowDescriptorReserve.Around(() =>
                new Contexts(CreateContext(json: false), CreateContext(json: true), _elementsOverNetlink ? NetlinkSocket.Open() : null, new NetlinkElements()));
        }
        catch (Exception e) when (e is NftablesException or DllNotFoundException or EntryPointNotFoundException)
        {
            _started.SetException(e is NftablesException ? e : new NftablesException(
                "libnftables.so.1 could not be loaded (install Debian's nftables / libnftables1): " + e.Message, e));
            return;
        }
        _started.SetResult();
        try
        {
            foreach (Action<Contexts> item in _work.GetConsumingEnumerable())
            {
                item(contexts);
            }
        }
        finally
        {
            NativeMethods.nft_ctx_free(contexts.Commands);
            NativeMethods.nft_ctx_free(contexts.Json);
            contexts.Netlink?.Dispose();
        }
    }

    private static void JoinNamespace(string name)
    {
        string path = NetworkNamespaceName.PathOf(name);
        int fd = NativeMethods.Open(path, NativeMethods.OpenReadOnlyCloseOnExec);
        if (fd < 0)
        {
            throw new NftablesException($"The network namespace '{name}' cannot be opened ({path}): errno {Marshal.GetLastPInvokeError()}.");
        }
        try
        {
            if (NativeMethods.SetNs(fd, NativeMethods.CloneNewNet) != 0)
            {
                throw new NftablesException($"The network namespace '{name}' cannot be joined (setns): errno {Marshal.GetLastPInvokeError()} (root or CAP_SYS_ADMIN is needed).");
            }
        }
        finally
        {
            NativeMethods.Close(fd);
        }
    }

    private static IntPtr CreateContext(bool json)
    {
        IntPtr ctx = NativeMethods.nft_ctx_new(0);
        if (ctx == IntPtr.Zero)
        {
            throw new NftablesException("nft_ctx_new failed.");
        }
        NativeMethods.nft_ctx_buffer_output(ctx);
        NativeMethods.nft_ctx_buffer_error(ctx);
        if (json)
        {
            NativeMethods.nft_ctx_output_set_flags(ctx, NativeMethods.OutputJson);
        }
        return ctx;
    }

    private static void Run(IntPtr ctx, string commands, out string output)
    {
        int rc = NativeMethods.nft_run_cmd_from_buffer(ctx, commands);
        output = Marshal.PtrToStringUTF8(NativeMethods.nft_ctx_get_output_buffer(ctx)) ?? "";
        string error = Marshal.PtrToStringUTF8(NativeMethods.nft_ctx_get_error_buffer(ctx)) ?? "";
        if (rc != 0)
        {
            throw new NftablesException("nftables rejected the transaction (nothing was applied): " + Shorten(error.Trim()));
        }
    }

    /// <summary>The error lines without nft's caret lines and the echoed (possibly huge) command, at most 2,000 characters.</summary>
    private static string Shorten(string text)
    {
        IEnumerable<string> lines = text.Split('\n')
            .Select(l => l.TrimEnd())
            .Where(l => l.Length > 0 && l.Trim().Trim('^', '~').Length > 0)
            .Select(l => l.Length <= 300 ? l : l[..300] + " ...");
        string joined = string.Join(" | ", lines);
        return joined.Length <= 2000 ? joined : joined[..2000] + " ...";
    }

    private sealed record Contexts(IntPtr Commands, IntPtr Json, NetlinkSocket? Netlink, NetlinkElements Elements);
}
