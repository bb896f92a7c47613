using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Diagnostics;

/// <summary>One backend a VIP port translates to: the pod address and target port, and its share of the slots.</summary>
/// <param name="Address">The endpoint's address.</param>
/// <param name="Port">The target port.</param>
/// <param name="Weight">The endpoint's weight (1 unless the source gave one).</param>
public sealed record ProgrammedEndpoint(string Address, int Port, int Weight);

/// <summary>One VIP . protocol . port of a service and the backends the kernel translates it to.</summary>
/// <param name="Vip">The virtual IP.</param>
/// <param name="Protocol">tcp, udp or sctp.</param>
/// <param name="Port">The service port.</param>
/// <param name="Name">The service port's name, or null.</param>
/// <param name="Endpoints">The eligible endpoints programmed (empty: connections are rejected).</param>
/// <param name="EmptyReason">Why no endpoint is eligible, when <paramref name="Endpoints"/> is empty.</param>
public sealed record ProgrammedPort(string Vip, string Protocol, int Port, string? Name, IReadOnlyList<ProgrammedEndpoint> Endpoints, string? EmptyReason);

/// <summary>One programmed service.</summary>
/// <param name="Namespace">The namespace.</param>
/// <param name="Name">The Service name.</param>
/// <param name="AffinityTimeoutSeconds">The ClientIP affinity timeout, or null.</param>
/// <param name="Ports">Its VIP ports (one per family and service port).</param>
/// <param name="DroppedEndpoints">Endpoints left out as invalid, each with the reason.</param>
public sealed record ProgrammedService(string Namespace, string Name, int? AffinityTimeoutSeconds, IReadOnlyList<ProgrammedPort> Ports, IReadOnlyList<string> DroppedEndpoints);

/// <summary>
/// What the agent has programmed, from its own state after the last committed sync (<see cref="NftablesAgent.GetProgrammedRulesAsync"/>):
/// every service's VIP ports and their backends, and how the last sync went. No credentials or request contents.
/// </summary>
public sealed record ProgrammedRules
{
    /// <summary>The nftables tables (<c>ip clientlb</c>, <c>ip6 clientlb</c>).</summary>
    public required IReadOnlyList<string> Tables { get; init; }

    /// <summary>node or sidecar.</summary>
    public required string Mode { get; init; }

    /// <summary>The network namespace programmed, or null for the agent's own.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>Whether the agent only prints its transactions (<c>--dry-run</c>): then the kernel holds none of this.</summary>
    public bool DryRun { get; init; }

    /// <summary>When the last sync succeeded, or null.</summary>
    public DateTimeOffset? LastSuccess { get; init; }

    /// <summary>The last sync's error, or null when it succeeded.</summary>
    public string? LastError { get; init; }

    /// <summary>The programmed services, ordered by namespace and name.</summary>
    public required IReadOnlyList<ProgrammedService> Services { get; init; }

    /// <summary>Services the last successful sync rejected, each with the reason.</summary>
    public required IReadOnlyList<ServiceRejection> Rejected { get; init; }

    /// <summary>Writes this as the JSON document the agent serves at <c>/rules</c> (camelCase fields; see docs/agent.md).</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        WriteStrings(writer, "tables", Tables);
        writer.WriteString("mode", Mode);
        writer.WriteString("networkNamespace", NetworkNamespace);
        writer.WriteBoolean("dryRun", DryRun);
        writer.WriteStartObject("lastSync");
        writer.WriteBoolean("ok", LastError is null && LastSuccess is not null);
        writer.WriteString("lastSuccess", LastSuccess?.ToString("O", CultureInfo.InvariantCulture));
        writer.WriteString("error", LastError);
        writer.WriteEndObject();
        writer.WriteStartArray("services");
        foreach (ProgrammedService service in Services)
        {
            writer.WriteStartObject();
            writer.WriteString("namespace", service.Namespace);
            writer.WriteString("name", service.Name);
            if (service.AffinityTimeoutSeconds is int timeout)
            {
                writer.WriteNumber("affinityTimeoutSeconds", timeout);
            }
            else
            {
                writer.WriteNull("affinityTimeoutSeconds");
            }
            writer.WriteStartArray("ports");
            foreach (ProgrammedPort port in service.Ports)
            {
                writer.WriteStartObject();
                writer.WriteString("vip", port.Vip);
                writer.WriteString("protocol", port.Protocol);
                writer.WriteNumber("port", port.Port);
                writer.WriteString("name", port.Name);
                writer.WriteStartArray("endpoints");
                foreach (ProgrammedEndpoint endpoint in port.Endpoints)
                {
                    writer.WriteStartObject();
                    writer.WriteString("address", endpoint.Address);
                    writer.WriteNumber("port", endpoint.Port);
                    writer.WriteNumber("weight", endpoint.Weight);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteString("emptyReason", port.EmptyReason);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            WriteStrings(writer, "droppedEndpoints", service.DroppedEndpoints);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartArray("rejected");
        foreach (ServiceRejection rejection in Rejected)
        {
            writer.WriteStartObject();
            writer.WriteString("service", rejection.Service);
            writer.WriteString("reason", rejection.Reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The JSON document of <see cref="WriteJson"/> as UTF-8 bytes (indented; served as application/json, never inside HTML, so '+' and the like stay unescaped).</summary>
    public byte[] ToJsonBytes()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteJson(writer);
        }
        return buffer.ToArray();
    }

    private static void WriteStrings(Utf8JsonWriter writer, string name, IReadOnlyList<string> values)
    {
        writer.WriteStartArray(name);
        foreach (string value in values)
        {
            writer.WriteStringValue(value);
        }
        writer.WriteEndArray();
    }
}
