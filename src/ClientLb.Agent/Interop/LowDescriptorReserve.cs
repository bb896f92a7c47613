namespace ClientLb.Agent.Interop;

/// <summary>
/// A libnftables context opens its netlink socket when it is created and waits on it with <c>select()</c>, whose set holds
/// only descriptors below FD_SETSIZE (1,024): glibc aborts the whole process on a higher one. An agent whose relay serves
/// many clients can have more than 1,024 descriptors open when it creates a context (a restart of its nft thread, a
/// namespace joined later), so the process keeps a few low descriptors reserved from its first context on and frees
/// them just while a context is created, where its socket takes the lowest free one. When none below 1,024 is free the
/// creation is refused with an error saying so, instead of a later abort.
/// </summary>
internal static class LowDescriptorReserve
{
    /// <summary>glibc's FD_SETSIZE: select() cannot wait on a descriptor at or above it.</summary>
    public const int SelectLimit = 1024;

    private const string Null = "/dev/null";
    private static readonly Lock Gate = new();
    private static readonly int[] Held = new int[4];
    private static int _count;

    /// <summary>Creates what opens a netlink socket (libnftables contexts) with the reserved descriptors freed for it.</summary>
    /// <exception cref="NftablesException">No descriptor below 1,024 is free.</exception>
    public static T Around<T>(Func<T> create)
    {
        lock (Gate)
        {
            Release();
            try
            {
                int lowest = NativeMethods.Open(Null, NativeMethods.OpenReadOnlyCloseOnExec);
                if (lowest >= 0)
                {
                    NativeMethods.Close(lowest);
                }
                if (lowest >= SelectLimit)
                {
                    throw new NftablesException($"libnftables needs a free file descriptor below {SelectLimit} for its netlink socket (it waits on it " +
                        $"with select()), and this process uses all of them; the lowest free one is {lowest}.");
                }
                return create();
            }
            finally
            {
                Reserve();
            }
        }
    }

    private static void Reserve()
    {
        while (_count < Held.Length)
        {
            int fd = NativeMethods.Open(Null, NativeMethods.OpenReadOnlyCloseOnExec);
            if (fd < 0)
            {
                return;
            }
            if (fd >= SelectLimit)
            {
                NativeMethods.Close(fd);
                return;
            }
            Held[_count++] = fd;
        }
    }

    private static void Release()
    {
        while (_count > 0)
        {
            NativeMethods.Close(Held[--_count]);
        }
    }
}
