using System.Runtime.InteropServices;

namespace ClientLb.Agent.Interop;

/// <summary>libnftables (Debian's libnftables1) and the few libc calls the namespace thread needs.</summary>
internal static partial class NativeMethods
{
    private const string Nftables = "libnftables.so.1";
    private const string Libc = "libc";

    /// <summary><c>NFT_CTX_OUTPUT_JSON</c>.</summary>
    public const uint OutputJson = 1 << 4;

    /// <summary>NFT_CTX_OUTPUT_TERSE: list sets without their elements.</summary>
    public const uint OutputTerse = 1 << 11;

    /// <summary><c>CLONE_NEWNET</c>.</summary>
    public const int CloneNewNet = 0x40000000;

    /// <summary><c>O_RDONLY | O_CLOEXEC</c>.</summary>
    public const int OpenReadOnlyCloseOnExec = 0x80000;

    [LibraryImport(Nftables)]
    public static partial IntPtr nft_ctx_new(uint flags);

    [LibraryImport(Nftables)]
    public static partial void nft_ctx_free(IntPtr ctx);

    [LibraryImport(Nftables)]
    public static partial int nft_ctx_buffer_output(IntPtr ctx);

    [LibraryImport(Nftables)]
    public static partial int nft_ctx_buffer_error(IntPtr ctx);

    [LibraryImport(Nftables)]
    public static partial IntPtr nft_ctx_get_output_buffer(IntPtr ctx);

    [LibraryImport(Nftables)]
    public static partial IntPtr nft_ctx_get_error_buffer(IntPtr ctx);

    [LibraryImport(Nftables)]
    public static partial void nft_ctx_output_set_flags(IntPtr ctx, uint flags);

    [LibraryImport(Nftables, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int nft_run_cmd_from_buffer(IntPtr ctx, string buffer);

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nsType);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Libc, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, ref int value, int length);

    [LibraryImport(Libc, EntryPoint = "send", SetLastError = true)]
    public static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libc, EntryPoint = "recv", SetLastError = true)]
    public static unsafe partial nint Receive(int fd, byte* buffer, nuint length, int flags);
}
