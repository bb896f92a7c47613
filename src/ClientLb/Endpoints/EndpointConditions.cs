namespace ClientLb.Endpoints;

/// <summary>
/// The EndpointSlice conditions of an endpoint (<c>discovery.k8s.io/v1</c> <c>endpoints[].conditions</c>).
/// </summary>
/// <param name="Ready">Ready to receive new traffic (a pod that is running, passes readiness and is not terminating).</param>
/// <param name="Serving">Passes readiness, whether or not it is terminating.</param>
/// <param name="Terminating">The pod is shutting down.</param>
public readonly record struct EndpointConditions(bool Ready, bool Serving, bool Terminating)
{
    /// <summary>Ready and serving, not terminating: what a static endpoint is.</summary>
    public static EndpointConditions ReadyAndServing { get; } = new(true, true, false);

    /// <summary>Kubernetes' rule for unset fields: a nil <c>ready</c> or <c>serving</c> means true, a nil <c>terminating</c> false.</summary>
    public static EndpointConditions FromApi(bool? ready, bool? serving, bool? terminating)
    {
        bool r = ready ?? true;
        return new EndpointConditions(r, serving ?? r, terminating ?? false);
    }

    /// <inheritdoc />
    public override string ToString() => $"ready={(Ready ? "true" : "false")} serving={(Serving ? "true" : "false")} terminating={(Terminating ? "true" : "false")}";
}
