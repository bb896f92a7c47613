using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Agent.State;
using ClientLb.Kubernetes.Model;
using CsCheck;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>
/// Property (issue 15): whatever a Service and its EndpointSlice hold, the agent's translation into nft statements never
/// throws, every statement starts with an nft command, no input text containing ';' reaches a statement, and every
/// address in a statement was accepted by the core's address rule. Same entry point as tests/fuzz target "nft".
/// </summary>
public sealed class TranslationPropertyTests
{
    private static readonly Gen<string> Address = Gen.OneOf(
        Gen.Const("10.1.0.5"), Gen.Const("010.0.0.1"), Gen.Const("10.1"), Gen.Const("0x0a000001"), Gen.Const("169.254.169.254"), Gen.Const("0.0.0.0"),
        Gen.Const("255.255.255.255"), Gen.Const("224.0.0.1"), Gen.Const("fd00::5"), Gen.Const("::"), Gen.Const("fe80::1"), Gen.Const("127.0.0.1"),
        Gen.Const("10.1.0.5 } ; flush ruleset"), Gen.Byte.Array[4].Select(static b => string.Join('.', b)), Gen.String["0123456789.:abcdef;} "]);

    private static readonly Gen<string> Name = Gen.OneOf(Gen.Const("web"), Gen.Const("shop"), Gen.Const("a--b"), Gen.Const("x;y"), Gen.String["abc-;{} \n"]);

    private static readonly Gen<(string? Name, string? Protocol, int Port)> Port = Gen.Select(
        Gen.OneOf(Gen.Const((string?)null), Gen.Const<string?>("http"), Name.Select(static n => (string?)n)),
        Gen.OneOf(Gen.Const((string?)null), Gen.Const<string?>("TCP"), Gen.Const<string?>("UDP"), Gen.Const<string?>("SCTP"), Gen.Const<string?>("QUIC")),
        Gen.OneOf(Gen.Int[1, 65535], Gen.Int[-5, 70000]),
        static (name, protocol, port) => (name, protocol, port));

    [Fact]
    public void Any_service_translates_to_well_formed_statements_or_a_named_rejection()
    {
        Gen.Select(Name, Name, Address.Array[1, 3], Port.Array[0, 3], Gen.Select(Address, Gen.Bool, Name).Array[0, 8]).Sample((ns, name, vips, ports, endpoints) =>
        {
            var service = new Service
            {
                Metadata = new ObjectMeta { Namespace = ns, Name = name },
                Spec = new ServiceSpec { ClusterIPs = [.. vips], Ports = [.. ports.Select(p => new ServicePort { Name = p.Name, Protocol = p.Protocol, Port = p.Port })] },
            };
            var slice = new EndpointSlice
            {
                Metadata = new ObjectMeta { Name = name + "-x", Namespace = ns },
                AddressType = "IPv4",
                Ports = [.. ports.Select(p => new EndpointPort { Name = p.Name, Protocol = p.Protocol, Port = p.Port })],
                Endpoints = [.. endpoints.Select(e => new Kubernetes.Model.Endpoint { Address = e.Item1, Conditions = new() { Ready = e.Item2 }, NodeName = e.Item3 })],
            };
            if (ServiceStateMapper.Map(Services.Slices(service, slice), out _, []) is not ServiceState state)
            {
                return true;
            }
            foreach (AgentMode mode in new[] { AgentMode.Node, AgentMode.Sidecar })
            {
                PendingSync sync = new SyncPlanner(new ProgrammedState { SkeletonApplied = true }, mode, 1000).Plan([state], [], full: true);
                foreach (string statement in sync.Transactions.SelectMany(static t => t.Split('\n')).Select(static s => s.Trim()).Where(static s => s.Length > 0))
                {
                    if (!(statement.StartsWith("add ", StringComparison.Ordinal) || statement.StartsWith("delete ", StringComparison.Ordinal)
                        || statement.StartsWith("flush ", StringComparison.Ordinal) || statement.StartsWith("destroy ", StringComparison.Ordinal)
                        || statement.StartsWith("table ", StringComparison.Ordinal) || statement.StartsWith('#') || statement is "}" or "{"))
                    {
                        return false;
                    }
                    // Short texts such as ";" occur in any statement: look for whole hostile values only.
                    if (endpoints.Any(e => e.Item1.Length >= 12 && e.Item1.Contains(';', StringComparison.Ordinal) && statement.Contains(e.Item1, StringComparison.Ordinal)))
                    {
                        return false;
                    }
                }
                foreach (string rejected in sync.Rejected.Select(static r => r.Reason))
                {
                    if (rejected.Length == 0)
                    {
                        return false;
                    }
                }
            }
            return state.Ports.SelectMany(static p => p.Endpoints).All(static e => Endpoints.EndpointAddress.CheckUsable(e.Address!, allowLoopback: false) is null);
        }, iter: 2_000);
    }
}
