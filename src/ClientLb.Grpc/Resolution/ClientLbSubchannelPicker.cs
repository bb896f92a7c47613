using ClientLb.Attempts;
using ClientLb.Balancing;
using Grpc.Net.Client.Balancer;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// Picks with a ClientLb picker and answers with the picked endpoint's subchannel. Each subchannel's
/// <see cref="PickResult"/> is built once, so a pick allocates nothing (PeakEwma excepted: it times each call; grpc-dotnet
/// itself allocates a CompletionContext per call for any tracker). The
/// endpoint is found by its slot in the balancer (no lookup), checked by reference, with a scan after a rebuild moved it.
/// </summary>
internal sealed class ClientLbSubchannelPicker : SubchannelPicker
{
    private readonly EndpointPicker _picker;
    private readonly ServiceBalancer _balancer;
    private readonly BalancedEndpoint[] _endpoints;
    private readonly Subchannel[] _subchannels;
    private readonly PickResult[] _results;
    private readonly int[] _bySlot;
    private readonly bool _timed;

    public ClientLbSubchannelPicker(EndpointPicker picker, ServiceBalancer balancer, IReadOnlyList<Subchannel> subchannels, BalancedEndpoint[] endpoints, CallTracking tracking)
    {
        _picker = picker;
        _balancer = balancer;
        _endpoints = endpoints;
        _subchannels = [.. subchannels];
        _timed = tracking == CallTracking.Timed;
        _results = new PickResult[endpoints.Length];
        int maxSlot = endpoints.Length == 0 ? -1 : endpoints.Max(e => e.Slot);
        _bySlot = new int[maxSlot + 1];
        Array.Fill(_bySlot, -1);
        for (int i = 0; i < endpoints.Length; i++)
        {
            _results[i] = PickResult.ForSubchannel(_subchannels[i], new OutstandingTracker(balancer, endpoints[i]));
            if (endpoints[i].Slot >= 0)
            {
                _bySlot[endpoints[i].Slot] = i;
            }
        }
    }

    public override PickResult Pick(global::Grpc.Net.Client.Balancer.PickContext context)
    {
        BalancedEndpoint picked = _picker.Pick(new global::ClientLb.Balancing.PickContext(context.Request));
        int index = IndexOf(picked);
        return _timed ? PickResult.ForSubchannel(_subchannels[index], new TimedTracker(_balancer, picked)) : _results[index];
    }

    private int IndexOf(BalancedEndpoint picked)
    {
        int slot = picked.Slot;
        if ((uint)slot < (uint)_bySlot.Length && _bySlot[slot] is int index && index >= 0 && ReferenceEquals(_endpoints[index], picked))
        {
            return index;
        }
        return Array.IndexOf(_endpoints, picked);
    }

    // Counts the call as outstanding (what P2C compares) from send to response headers, and its outcome for passive health.
    private sealed class OutstandingTracker(ServiceBalancer balancer, BalancedEndpoint endpoint) : ISubchannelCallTracker
    {
        public void Start() => endpoint.OnRequestStart();

        public void Complete(CompletionContext context)
        {
            endpoint.OnRequestEnd();
            EndCall(balancer, endpoint, -1, context.Error);
        }
    }

    // As OutstandingTracker, and times the call for PeakEwma (one small object per call).
    private sealed class TimedTracker(ServiceBalancer balancer, BalancedEndpoint endpoint) : ISubchannelCallTracker
    {
        private long _start;

        public void Start()
        {
            _start = balancer.StartAttempt(endpoint);
        }

        public void Complete(CompletionContext context)
        {
            endpoint.OnRequestEnd();
            EndCall(balancer, endpoint, _start, context.Error);
        }
    }

    // A cancelled call (the caller's token or deadline: grpc-dotnet passes it as the send's token) says nothing of the endpoint.
    // grpc-dotnet reports the call's outcome only as an error or none: a success is an answer, an error a failed send.
    private static void EndCall(ServiceBalancer balancer, BalancedEndpoint endpoint, long start, Exception? error)
    {
        if (error is not OperationCanceledException)
        {
            balancer.EndAttempt(endpoint, start, error is null ? AttemptOutcome.Answered : AttemptClassifier.ClassifyFailure(error).Outcome);
        }
    }
}
