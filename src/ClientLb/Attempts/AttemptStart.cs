using System.Diagnostics;
using ClientLb.LoadBalancing;

namespace ClientLb.Attempts;

/// <summary>
/// An attempt sent to a picked endpoint (<see cref="AttemptLoop.Start"/>): what its end needs, and no more (a handler keeps
/// it across the send's await, in its own state).
/// </summary>
/// <param name="Endpoint">The endpoint, counted as outstanding until the attempt's exchange ends.</param>
/// <param name="Start">The attempt's start (timestamp), for its latency.</param>
/// <param name="Span">The attempt's <c>ClientLb.Attempt</c> activity, when traced and listened to.</param>
public readonly record struct AttemptStart(BalancedEndpoint Endpoint, long Start, Activity? Span);
