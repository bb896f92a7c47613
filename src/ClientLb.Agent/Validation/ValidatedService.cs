using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Validation;

/// <summary>A backend that passed validation: a parsed unicast address, a target port in range, a weight.</summary>
internal readonly record struct Target(IPAddress Address, int Port, int Weight);

/// <summary>One service port for one address family: the VIP, the eligible targets and why none are, if none are.</summary>
internal sealed record ValidatedPort(AddressFamily Family, IPAddress Vip, ServiceProtocol Protocol, int Port, ImmutableArray<Target> Targets, string? EmptyReason);

/// <summary>A service whose every value is checked; only such values ever reach a rule.</summary>
internal sealed record ValidatedService(string Key, ImmutableArray<ValidatedPort> Ports, int? AffinityTimeoutSeconds)
{
    /// <summary>The endpoints left out as invalid, each with the reason; the rest of the service is programmed.</summary>
    public ImmutableArray<string> Dropped { get; init; } = [];
}
