using System.Runtime.InteropServices;

namespace ClientLb.Agent.Interop;

/// <summary>
/// An nfnetlink socket (AF_NETLINK, NETLINK_NETFILTER) for element batches. Created on the runner's thread after it joined
/// the network namespace, so it acts on that namespace. The kernel handles a batch inside the send call (one transaction:
/// all of it commits or none), so every answer is queued when the send returns and is read without waiting.
/// </summary>
internal sealed class NetlinkSocket : IDisposable
{
    private const int AfNetlink = 16, SockRaw = 3, SockCloexec = 0x80000, NetlinkNetfilter = 12;
    private const int SolSocket = 1, SoSndbufForce = 32, SoRcvbufForce = 33;
    private const int SolNetlink = 270, NetlinkCapAck = 10, NetlinkExtAck = 11;
    private const int DontWait = 0x40;
    private const int Again = 11, Interrupted = 4;
    private const ushort Error = 2;
    private const int ReceiveBuffer = 4 * 1024 * 1024;

    private readonly int _fd;
    private readonly byte[] _answers = new byte[256 * 1024];
    private int _sendBuffer;

    private NetlinkSocket(int fd) => _fd = fd;

    /// <summary>Opens the socket in the calling thread's network namespace.</summary>
    /// <exception cref="NftablesException">The socket cannot be opened (no nf_tables, no CAP_NET_ADMIN).</exception>
    public static NetlinkSocket Open()
    {
        int fd = NativeMethods.Socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
        if (fd < 0)
        {
            throw new NftablesException($"An nfnetlink socket cannot be opened: {Marshal.GetLastPInvokeErrorMessage()}.");
        }
        var socket = new NetlinkSocket(fd);
        // Errors carry the failing message's header only (not the whole batch back), plus the kernel's text if it has one.
        socket.SetOption(SolNetlink, NetlinkCapAck, 1);
        socket.SetOption(SolNetlink, NetlinkExtAck, 1);
        socket.SetOption(SolSocket, SoRcvbufForce, ReceiveBuffer);
        return socket;
    }

    /// <summary>Sends <paramref name="batch"/> as one transaction and checks every answer.</summary>
    /// <exception cref="NftablesException">The kernel refused it: nothing of it applied.</exception>
    public void Send(NetlinkElements batch)
    {
        ReadAnswers(batch: null); // nothing should be queued; a late answer of an earlier batch is dropped here
        if (batch.Length + 4096 > _sendBuffer)
        {
            _sendBuffer = Math.Max(batch.Length * 2, 1 << 20);
            SetOption(SolSocket, SoSndbufForce, _sendBuffer);
        }
        long sent;
        do
        {
            sent = Send(batch.Batch);
        }
        while (sent < 0 && Marshal.GetLastPInvokeError() == Interrupted);
        if (sent != batch.Length)
        {
            throw new NftablesException($"The element transaction could not be sent to the kernel (nothing was applied): {Marshal.GetLastPInvokeErrorMessage()}.");
        }
        ReadAnswers(batch);
    }

    public void Dispose() => NativeMethods.Close(_fd);

    private unsafe long Send(ReadOnlySpan<byte> bytes)
    {
        fixed (byte* start = bytes)
        {
            return NativeMethods.Send(_fd, start, (nuint)bytes.Length, 0);
        }
    }

    private unsafe long Receive()
    {
        fixed (byte* start = _answers)
        {
            return NativeMethods.Receive(_fd, start, (nuint)_answers.Length, DontWait);
        }
    }

    private void ReadAnswers(NetlinkElements? batch)
    {
        int acknowledged = 0;
        string? failure = null;
        while (true)
        {
            long received = Receive();
            if (received < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Interrupted)
                {
                    continue;
                }
                if (errno == Again)
                {
                    break;
                }
                failure ??= $"reading the kernel's answers failed: {Marshal.GetPInvokeErrorMessage(errno)}";
                break;
            }
            for (int at = 0; at + 16 <= received;)
            {
                int length = BitConverter.ToInt32(_answers, at);
                ushort type = BitConverter.ToUInt16(_answers, at + 4);
                uint sequence = BitConverter.ToUInt32(_answers, at + 8);
                if (length < 16 || at + length > received)
                {
                    break;
                }
                if (batch is not null && type == Error && length >= 20)
                {
                    int error = BitConverter.ToInt32(_answers, at + 16);
                    string? command = sequence == batch.BeginSequence ? "the batch" : batch.CommandOf(sequence);
                    if (command is not null)
                    {
                        if (error == 0)
                        {
                            acknowledged++;
                        }
                        else
                        {
                            failure ??= $"{Marshal.GetPInvokeErrorMessage(-error)} (errno {-error}) at '{command}'{ExtendedMessage(at, length)}";
                        }
                    }
                }
                at += (length + 3) & ~3;
            }
        }
        if (batch is null)
        {
            return;
        }
        if (failure is null && acknowledged != batch.Messages.Count)
        {
            failure = $"the kernel acknowledged {acknowledged} of {batch.Messages.Count} element commands";
        }
        if (failure is not null)
        {
            throw new NftablesException("nftables rejected the element transaction (nothing was applied): " + failure);
        }
    }

    /// <summary>The kernel's NLMSGERR_ATTR_MSG text after an error's capped header, if any.</summary>
    private string ExtendedMessage(int at, int length)
    {
        for (int attribute = at + 36; attribute + 4 <= at + length;)
        {
            int size = BitConverter.ToUInt16(_answers, attribute);
            int type = BitConverter.ToUInt16(_answers, attribute + 2);
            if (size < 4)
            {
                break;
            }
            if (type == 1 && size > 5)
            {
                return ": " + System.Text.Encoding.UTF8.GetString(_answers, attribute + 4, size - 5);
            }
            attribute += (size + 3) & ~3;
        }
        return "";
    }

    private void SetOption(int level, int name, int value)
    {
        if (NativeMethods.SetSockOpt(_fd, level, name, ref value, sizeof(int)) != 0)
        {
            throw new NftablesException($"setsockopt({level}, {name}) on the nfnetlink socket failed: {Marshal.GetLastPInvokeErrorMessage()}.");
        }
    }
}
