using System.Diagnostics;
using ClientLb.LoadBalancing;

namespace ClientLb.Attempts;

/// <summary>An attempt sent to a picked endpoint (<see cref="AttemptLoop.Start"/>).</summary>
/// <param name="Endpoint">The endpoint, counted as outstanding until the attempt's exchange ends.</param>
/// <param name="Start">The attempt's start (timestamp), for its latency.</param>
/// <param name="PickerChanged">The picker's change signal as it was before the pick (a wait for an endpoint waits on it).</param>
/// <param name="Sent">The send, up to the answer's headers.</param>
/// <param name="Span">The attempt's <c>ClientLb.Attempt</c> activity, when traced and listened to.</param>
public readonly record struct AttemptStart(BalancedEndpoint Endpoint, long Start, Task PickerChanged, Task<HttpResponseMessage> Sent, Activity? Span);
