namespace ClientLb.Sandbox;

/// <summary>A snapshot of one pod, as the helpers of <see cref="SandboxCluster"/> report it.</summary>
/// <param name="Namespace">The pod's namespace.</param>
/// <param name="Name">The pod's name (also what its HTTP server answers).</param>
/// <param name="IP">The pod's loopback address, or null before it started.</param>
/// <param name="NodeName">The node the pod runs on, or null before scheduling.</param>
/// <param name="Ready">The pod's Ready condition.</param>
/// <param name="Terminating">The pod has been deleted and is within its grace period.</param>
/// <param name="Ports">The TCP container ports its server listens on.</param>
public sealed record SandboxPod(string Namespace, string Name, string? IP, string? NodeName, bool Ready, bool Terminating, IReadOnlyList<int> Ports)
{
    /// <summary>http://IP:port/ for the given (default: first) container port.</summary>
    public Uri GetUri(int? port = null)
    {
        if (IP is null)
        {
            throw new InvalidOperationException($"pod {Namespace}/{Name} has no IP yet");
        }

        int p = port ?? (Ports.Count > 0 ? Ports[0] : throw new InvalidOperationException($"pod {Namespace}/{Name} declares no container ports"));
        return new Uri($"http://{IP}:{p}/");
    }
}
