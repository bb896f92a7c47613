namespace ClientLb.LoadBalancing;

/// <summary>
/// A retry budget over a sliding window (Finagle's RetryBudget, linkerd's retry budget): every request deposits, every
/// retry or hedge withdraws, and a withdrawal is allowed while retries in the window stay below
/// <c>Ratio x requests + MinRetriesPerSecond x window</c>. During a full outage retries therefore add at most that share
/// of load instead of multiplying it. Lock-free: the window is a ring of one-second-or-shorter slots of counters.
/// </summary>
public sealed class RetryBudget
{
    private const int SlotCount = 10;
    private readonly TimeProvider _time;
    private readonly long[] _slotEpoch = new long[SlotCount];
    private readonly long[] _requests = new long[SlotCount];
    private readonly long[] _retries = new long[SlotCount];
    private Settings _settings;

    private sealed record Settings(bool Enabled, double Ratio, double MinRetries, long SlotTicks);

    /// <summary>Creates a budget following <paramref name="options"/>, timed by <paramref name="time"/>.</summary>
    public RetryBudget(RetryBudgetOptions options, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _settings = ToSettings(options);
        Array.Fill(_slotEpoch, long.MinValue);
    }

    /// <summary>Applies new options; counts so far are kept.</summary>
    public void Configure(RetryBudgetOptions options) => Volatile.Write(ref _settings, ToSettings(options));

    private Settings ToSettings(RetryBudgetOptions options) => new(options.Enabled, options.Ratio,
        options.MinRetriesPerSecond * options.Window.TotalSeconds, Math.Max(1, (long)(options.Window.TotalSeconds * _time.TimestampFrequency / SlotCount)));

    /// <summary>Counts a request (a first attempt).</summary>
    public void Deposit(long now) => Interlocked.Increment(ref _requests[Slot(now, Volatile.Read(ref _settings))]);

    /// <summary>Takes one retry from the budget; false when the budget is spent (the retry must not be made).</summary>
    public bool TryWithdraw()
    {
        Settings settings = Volatile.Read(ref _settings);
        if (!settings.Enabled)
        {
            return true;
        }
        long now = _time.GetTimestamp();
        int slot = Slot(now, settings);
        long epoch = now / settings.SlotTicks;
        long requests = 0, retries = 0;
        for (int i = 0; i < SlotCount; i++)
        {
            if (epoch - Volatile.Read(ref _slotEpoch[i]) < SlotCount)
            {
                requests += Volatile.Read(ref _requests[i]);
                retries += Volatile.Read(ref _retries[i]);
            }
        }
        if (retries + 1 > settings.Ratio * requests + settings.MinRetries)
        {
            return false;
        }
        Interlocked.Increment(ref _retries[slot]);
        return true;
    }

    /// <summary>Requests and retries counted in the current window, for diagnostics.</summary>
    public (long Requests, long Retries) Window()
    {
        Settings settings = Volatile.Read(ref _settings);
        long epoch = _time.GetTimestamp() / settings.SlotTicks;
        long requests = 0, retries = 0;
        for (int i = 0; i < SlotCount; i++)
        {
            if (epoch - Volatile.Read(ref _slotEpoch[i]) < SlotCount)
            {
                requests += Volatile.Read(ref _requests[i]);
                retries += Volatile.Read(ref _retries[i]);
            }
        }
        return (requests, retries);
    }

    // The slot of `now`, cleared first when it last held an older epoch. Racing resets may drop a few counts: the budget
    // is an estimate, and the hot path stays two interlocked operations at most.
    private int Slot(long now, Settings settings)
    {
        long epoch = now / settings.SlotTicks;
        int slot = (int)((ulong)epoch % SlotCount);
        long seen = Volatile.Read(ref _slotEpoch[slot]);
        if (seen < epoch && Interlocked.CompareExchange(ref _slotEpoch[slot], epoch, seen) == seen)
        {
            Volatile.Write(ref _requests[slot], 0);
            Volatile.Write(ref _retries[slot], 0);
        }
        return slot;
    }
}
