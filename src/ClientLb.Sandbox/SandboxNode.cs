namespace ClientLb.Sandbox;

/// <summary>A node of the sandbox cluster. Pods are spread over nodes; endpoints carry the node's name and zone.</summary>
/// <param name="Name">The node name (a DNS subdomain), reported as nodeName in pods and EndpointSlices.</param>
/// <param name="Zone">The value of the node's <c>topology.kubernetes.io/zone</c> label.</param>
public sealed record SandboxNode(string Name, string Zone);
