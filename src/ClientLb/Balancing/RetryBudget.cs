namespace ClientLb.Balancing;

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
    // Per slot its epoch, then requests, then retries: one array, made on the first deposit or withdrawal (a watched
    // service that never sends keeps none).
    private long[]? _slots;
    private Settings _settings;

    private sealed record Settings(bool Enabled, double Ratio, double MinRetries, long SlotTicks);

    /// <summary>Creates a budget following <paramref name="options"/>, timed by <paramref name="time"/>.</summary>
    public RetryBudget(RetryBudgetOptions options, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _settings = ToSettings(options);
    }

    /// <summary>Applies new options; counts so far are kept.</summary>
    public void Configure(RetryBudgetOptions options) => Volatile.Write(ref _settings, ToSettings(options));

    private Settings ToSettings(RetryBudgetOptions options) => SharedSettings.Share(ref _last, new Settings(options.Enabled, options.Ratio,
        options.MinRetriesPerSecond * options.Window.TotalSeconds, Math.Max(1, (long)(options.Window.TotalSeconds * _time.TimestampFrequency / SlotCount))));

    private static Settings? _last;

    /// <summary>Counts a request (a first attempt).</summary>
    public void Deposit(long now)
    {
        long[] slots = Slots();
        Interlocked.Increment(ref slots[SlotCount + Slot(slots, now, Volatile.Read(ref _settings))]);
    }

    /// <summary>Takes one retry from the budget; false when the budget is spent (the retry must not be made).</summary>
    public bool TryWithdraw()
    {
        Settings settings = Volatile.Read(ref _settings);
        if (!settings.Enabled)
        {
            return true;
        }
        long[] slots = Slots();
        long now = _time.GetTimestamp();
        int slot = Slot(slots, now, settings);
        (long requests, long retries) = Sum(slots, now / settings.SlotTicks);
        if (retries + 1 > settings.Ratio * requests + settings.MinRetries)
        {
            return false;
        }
        Interlocked.Increment(ref slots[2 * SlotCount + slot]);
        return true;
    }

    /// <summary>Requests and retries counted in the current window, for diagnostics.</summary>
    public (long Requests, long Retries) Window()
    {
        long[]? slots = Volatile.Read(ref _slots);
        return slots is null ? (0, 0) : Sum(slots, _time.GetTimestamp() / Volatile.Read(ref _settings).SlotTicks);
    }

    private long[] Slots() => Volatile.Read(ref _slots) ?? CreateSlots();

    private long[] CreateSlots()
    {
        long[] slots = new long[3 * SlotCount];
        slots.AsSpan(0, SlotCount).Fill(long.MinValue);
        return Interlocked.CompareExchange(ref _slots, slots, null) ?? slots;
    }

    private static (long Requests, long Retries) Sum(long[] slots, long epoch)
    {
        long requests = 0, retries = 0;
        for (int i = 0; i < SlotCount; i++)
        {
            if (epoch - Volatile.Read(ref slots[i]) < SlotCount)
            {
                requests += Volatile.Read(ref slots[SlotCount + i]);
                retries += Volatile.Read(ref slots[2 * SlotCount + i]);
            }
        }
        return (requests, retries);
    }

    // The slot of `now`, cleared first when it last held an older epoch. Racing resets may drop a few counts: the budget
    // is an estimate, and the hot path stays two interlocked operations at most.
    private static int Slot(long[] slots, long now, Settings settings)
    {
        long epoch = now / settings.SlotTicks;
        int slot = (int)((ulong)epoch % SlotCount);
        long seen = Volatile.Read(ref slots[slot]);
        if (seen < epoch && Interlocked.CompareExchange(ref slots[slot], epoch, seen) == seen)
        {
            Volatile.Write(ref slots[SlotCount + slot], 0);
            Volatile.Write(ref slots[2 * SlotCount + slot], 0);
        }
        return slot;
    }
}
