using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using ClientLb.Balancing.Policies;

namespace ClientLb.Benchmarks;

/// <summary>
/// The random draw of a P2C pick, on one thread and on two threads at once: ClientLb's per-thread wyrand
/// (<c>PickRandom</c>), <c>Random.Shared</c>, and the alternative of one wyrand state per picker (a plain field every draw
/// writes, the cheapest draw on one thread). Shows what a state shared between cores costs when both pick.
/// dotnet run -c Release --project tests/ClientLb.Benchmarks -- --filter '*PickRandom*' --inProcess
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[MedianColumn]
public class PickRandomBenchmarks
{
    private const string OneThread = "one thread", TwoThreads = "two threads";
    private const int DrawsPerThread = 1_000_000;
    private readonly TwoThreadRunner _twoThreads = new();
    private readonly SharedState _shared = new();

    [Benchmark(Baseline = true, OperationsPerInvoke = DrawsPerThread), BenchmarkCategory(OneThread)]
    public ulong PerThread() => Draws(static _ => PickRandom.Next(), null);

    [Benchmark(OperationsPerInvoke = DrawsPerThread), BenchmarkCategory(OneThread)]
    public ulong RandomShared() => Draws(static _ => (ulong)Random.Shared.NextInt64(), null);

    [Benchmark(OperationsPerInvoke = DrawsPerThread), BenchmarkCategory(OneThread)]
    public ulong PerPicker() => Draws(static s => s!.Next(), _shared);

    // The time per draw on each thread while the other draws too.
    [Benchmark(Baseline = true, OperationsPerInvoke = DrawsPerThread), BenchmarkCategory(TwoThreads)]
    public void PerThreadOnTwoThreads() => OnTwoThreads(static _ => PickRandom.Next(), null);

    [Benchmark(OperationsPerInvoke = DrawsPerThread), BenchmarkCategory(TwoThreads)]
    public void RandomSharedOnTwoThreads() => OnTwoThreads(static _ => (ulong)Random.Shared.NextInt64(), null);

    [Benchmark(OperationsPerInvoke = DrawsPerThread), BenchmarkCategory(TwoThreads)]
    public void PerPickerOnTwoThreads() => OnTwoThreads(static s => s!.Next(), _shared);

    [GlobalCleanup]
    public void Cleanup() => _twoThreads.Dispose();

    private static ulong Draws(Func<SharedState?, ulong> draw, SharedState? state)
    {
        ulong sum = 0;
        for (int i = 0; i < DrawsPerThread; i++)
        {
            sum += draw(state);
        }
        return sum;
    }

    private void OnTwoThreads(Func<SharedState?, ulong> draw, SharedState? state) => _twoThreads.Run(() => GC.KeepAlive(Draws(draw, state)));

    // PickRandom's wyrand step, on one state that every thread writes (as a field of a picker would be).
    private sealed class SharedState
    {
        private ulong _state = (ulong)Random.Shared.NextInt64() | 1;

        public ulong Next() => PickRandom.Next(ref _state);
    }
}
