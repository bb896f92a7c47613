using System.Net;

namespace ClientLb.Sandbox.Pods;

/// <summary>
/// What the sandbox runs for a container image in a run-to-completion pod (a Job's pods, or any pod with
/// <c>restartPolicy: Never</c> or <c>OnFailure</c>): an in-process program whose exit code is the container's.
/// Register it in <see cref="SandboxOptions.Images"/>; it should stop soon after <paramref name="cancellationToken"/> fires
/// (the pod was deleted, the Job failed, or the cluster stops).
/// </summary>
/// <param name="container">The container it runs as: its args, environment, log and credentials.</param>
/// <param name="cancellationToken">Cancelled when the container is to stop.</param>
/// <returns>The exit code: 0 succeeds, anything else fails the container.</returns>
public delegate Task<int> SandboxProgram(SandboxContainer container, CancellationToken cancellationToken);

/// <summary>One container of a run-to-completion pod, as its <see cref="SandboxProgram"/> sees it.</summary>
public sealed class SandboxContainer
{
    /// <summary>The pod's namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The pod's name.</summary>
    public required string PodName { get; init; }

    /// <summary>The container's name.</summary>
    public required string Name { get; init; }

    /// <summary>The image reference of the container spec (e.g. <c>clientlb/payment-client:0.1.0</c>).</summary>
    public required string Image { get; init; }

    /// <summary>The container spec's <c>command</c> (empty when the image's entrypoint is meant).</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>The container spec's <c>args</c>.</summary>
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary>The container's environment: <c>env</c> values, with <c>fieldRef</c>, <c>configMapKeyRef</c> and <c>secretKeyRef</c> resolved.</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>The pod's service account (<c>spec.serviceAccountName</c>, default <c>default</c>).</summary>
    public required string ServiceAccountName { get; init; }

    /// <summary>
    /// A kubeconfig for the API server with a token of the pod's service account (what the pod's in-cluster config would
    /// give it; RBAC applies when it is on). When the namespace has no <c>default</c> service account and the pod names
    /// none, the cluster's own kubeconfig.
    /// </summary>
    public required string KubeconfigPath { get; init; }

    /// <summary>The cluster DNS (UDP and TCP), or null when it is off.</summary>
    public IPEndPoint? DnsEndPoint { get; init; }

    /// <summary>The container's log: every line written here is what <c>kubectl logs</c> shows.</summary>
    public required TextWriter Output { get; init; }
}
