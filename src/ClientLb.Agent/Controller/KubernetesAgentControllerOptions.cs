using ClientLb.Agent.Validation;

namespace ClientLb.Agent.Controller;

/// <summary>What <see cref="KubernetesAgentController"/> watches and how it batches changes.</summary>
public sealed class KubernetesAgentControllerOptions
{
    /// <summary>
    /// Sidecar selection: the services to program, as <c>namespace/name</c>. Empty (node mode): every service of
    /// <see cref="Namespace"/> (or of all namespaces) that matches <see cref="LabelSelector"/>.
    /// </summary>
    public IList<string> Services { get; set; } = [];

    /// <summary>Node mode: the one namespace to watch; null for all namespaces.</summary>
    public string? Namespace { get; set; }

    /// <summary>Node mode: a label selector for Services (e.g. <c>team=payments</c>); null for all.</summary>
    public string? LabelSelector { get; set; }

    /// <summary>Watch events arriving within this time of the first are applied as one batch (default 5 ms).</summary>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>After a failed sync, the delay before retrying it (doubles up to 30 s; default 200 ms).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Watch timing (timeout, resync, reconnect backoff); the defaults of <see cref="Kubernetes.KubernetesSourceOptions"/>.</summary>
    public Kubernetes.KubernetesSourceOptions Watch { get; set; } = new();

    /// <summary>Called after every sync the controller makes (on the controller's loop; must not block).</summary>
    public Action<AgentBatch>? OnBatch { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Services, nameof(Services));
        foreach (string service in Services)
        {
            if (ParseServiceKey(service, out string? error) is null)
            {
                throw new ArgumentException($"{nameof(Services)}: {error}.", nameof(Services));
            }
        }
        if (Services.Count > 0 && (Namespace is not null || LabelSelector is not null))
        {
            throw new ArgumentException($"{nameof(Services)} selects services by name; {nameof(Namespace)} and {nameof(LabelSelector)} must be null with it.", nameof(Services));
        }
        if (Namespace is not null && NameRules.CheckLabel(Namespace, "namespace") is string nsError)
        {
            throw new ArgumentException($"{nameof(Namespace)}: {nsError}.", nameof(Namespace));
        }
        if (LabelSelector is { Length: 0 })
        {
            throw new ArgumentException($"{nameof(LabelSelector)} is empty (use null for all services).", nameof(LabelSelector));
        }
        if (BatchDelay < TimeSpan.Zero || BatchDelay > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"{nameof(BatchDelay)} must be between 0 and 10 s (got {BatchDelay}).", nameof(BatchDelay));
        }
        if (RetryDelay <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(RetryDelay)} must be positive (got {RetryDelay}).", nameof(RetryDelay));
        }
        ArgumentNullException.ThrowIfNull(Watch, nameof(Watch));
    }

    /// <summary>Splits <c>namespace/name</c>; null with <paramref name="error"/> when it is not two DNS-1123 labels.</summary>
    internal static (string Namespace, string Name)? ParseServiceKey(string? text, out string? error)
    {
        string[] parts = (text ?? "").Split('/');
        if (parts.Length != 2)
        {
            error = $"'{NameRules.Display(text ?? "")}' is not namespace/name";
            return null;
        }
        error = NameRules.CheckLabel(parts[0], "namespace") ?? NameRules.CheckLabel(parts[1], "service name");
        return error is null ? (parts[0], parts[1]) : null;
    }
}
