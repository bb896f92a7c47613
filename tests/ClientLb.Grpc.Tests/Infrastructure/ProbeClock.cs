using System.Threading.Channels;
using ClientLb.Balancing;
using ClientLb.Balancing.Health;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Grpc.Tests.Infrastructure;

/// <summary>
/// Drives the probes of a balancer's ejected endpoints on a <see cref="FakeTimeProvider"/>: the balancer's own prober is
/// wrapped (unchanged) to report when a probe starts and what it answered, and <see cref="NextProbeAsync"/> moves the
/// clock one probe interval at a time until the next probe has run. The answer is the server's: the clock is not moved
/// while a probe is in flight, so its timeout (on the same clock) cannot end it.
/// </summary>
public sealed class ProbeClock
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Channel<bool> _started = Channel.CreateUnbounded<bool>();
    private readonly Channel<bool> _answers = Channel.CreateUnbounded<bool>();

    /// <summary>Wraps <paramref name="balancer"/>'s prober; call before the endpoint is ejected (the probe loop keeps the prober it started with).</summary>
    public ProbeClock(FakeTimeProvider time, ServiceBalancer balancer, TimeSpan interval)
    {
        _time = time;
        _interval = interval;
        EndpointProber probe = balancer.Prober ?? throw new InvalidOperationException("the balancer has no prober (no active health checks yet)");
        balancer.Prober = async (endpoint, cancellationToken) =>
        {
            _started.Writer.TryWrite(true);
            bool answer = await probe(endpoint, cancellationToken);
            _answers.Writer.TryWrite(answer);
            return answer;
        };
    }

    /// <summary>Moves the clock until the next probe starts (the probe loop may not wait on the clock yet), then returns its answer.</summary>
    public async Task<bool> NextProbeAsync()
    {
        using var patience = new CancellationTokenSource(Patience);
        try
        {
            while (!_started.Reader.TryRead(out _))
            {
                _time.Advance(_interval);
                // Real time only to let the probe loop run; if it was not waiting on the clock yet, the clock moves again.
                using var step = CancellationTokenSource.CreateLinkedTokenSource(patience.Token);
                step.CancelAfter(TimeSpan.FromSeconds(1));
                try
                {
                    await _started.Reader.WaitToReadAsync(step.Token);
                }
                catch (OperationCanceledException) when (!patience.IsCancellationRequested)
                {
                }
            }
            return await _answers.Reader.ReadAsync(patience.Token);
        }
        catch (OperationCanceledException) when (patience.IsCancellationRequested)
        {
            throw new TimeoutException($"no probe ran, or none answered, within {Patience.TotalSeconds} s of moving the clock");
        }
    }
}
