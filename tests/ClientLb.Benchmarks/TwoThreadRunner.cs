namespace ClientLb.Benchmarks;

/// <summary>Runs a benchmark's loop on two threads at once (the 2 cores here), both started together by a barrier.</summary>
internal sealed class TwoThreadRunner : IDisposable
{
    private readonly Barrier _start = new(2);

    public void Run(Action loop)
    {
        void Started()
        {
            _start.SignalAndWait();
            loop();
        }
        Parallel.Invoke(new ParallelOptions { MaxDegreeOfParallelism = 2 }, Started, Started);
    }

    public void Dispose() => _start.Dispose();
}
