using System.Text;

namespace ClientLb.Sandbox.Api;

/// <summary>Writes a kubeconfig (cluster, user and context named "clientlb-sandbox") pointing at the API server.</summary>
internal static class Kubeconfig
{
    public const string Name = "clientlb-sandbox";

    public static string Render(Uri server, string? caPem, string? token, string ns = "default")
    {
        var sb = new StringBuilder();
        sb.AppendLine("apiVersion: v1");
        sb.AppendLine("kind: Config");
        sb.AppendLine("clusters:");
        sb.AppendLine($"- name: {Name}");
        sb.AppendLine("  cluster:");
        sb.AppendLine($"    server: {Quote(server.ToString().TrimEnd('/'))}");
        if (caPem is not null)
        {
            sb.AppendLine($"    certificate-authority-data: {Convert.ToBase64String(Encoding.ASCII.GetBytes(caPem))}");
        }

        sb.AppendLine("users:");
        sb.AppendLine($"- name: {Name}");
        sb.AppendLine(token is null ? "  user: {}" : $"  user:\n    token: {Quote(token)}");
        sb.AppendLine("contexts:");
        sb.AppendLine($"- name: {Name}");
        sb.AppendLine("  context:");
        sb.AppendLine($"    cluster: {Name}");
        sb.AppendLine($"    user: {Name}");
        sb.AppendLine($"    namespace: {ns}");
        sb.AppendLine($"current-context: {Name}");
        sb.AppendLine("preferences: {}");
        return sb.ToString();
    }

    // JSON string syntax is valid YAML double-quoted syntax.
    private static string Quote(string s) => System.Text.Json.Nodes.JsonValue.Create(s).ToJsonString();
}
