using YamlDotNet.Serialization;

namespace ClientLb.Kubernetes.Config;

/// <summary>
/// The kubeconfig fields that KubernetesClient's model (<c>k8s.KubeConfigModels</c>) drops and ClientLb honours:
/// <c>clusters[].cluster.proxy-url</c>, <c>users[].user.tokenFile</c> and <c>users[].user.exec.interactiveMode</c>. Read from the same text by the same
/// YamlDotNet deserializer as the model, which ignores everything else.
/// </summary>
internal sealed class KubeconfigAdditions
{
    [YamlMember(Alias = "clusters")]
    public List<NamedCluster>? Clusters { get; set; }

    [YamlMember(Alias = "users")]
    public List<NamedUser>? Users { get; set; }

    internal sealed class NamedCluster
    {
        [YamlMember(Alias = "name")]
        public string? Name { get; set; }

        [YamlMember(Alias = "cluster")]
        public ClusterFields? Cluster { get; set; }
    }

    internal sealed class ClusterFields
    {
        [YamlMember(Alias = "proxy-url")]
        public string? ProxyUrl { get; set; }
    }

    internal sealed class NamedUser
    {
        [YamlMember(Alias = "name")]
        public string? Name { get; set; }

        [YamlMember(Alias = "user")]
        public UserFields? User { get; set; }
    }

    internal sealed class UserFields
    {
        [YamlMember(Alias = "tokenFile")]
        public string? TokenFile { get; set; }

        [YamlMember(Alias = "exec")]
        public ExecFields? Exec { get; set; }
    }

    internal sealed class ExecFields
    {
        [YamlMember(Alias = "interactiveMode")]
        public string? InteractiveMode { get; set; }
    }
}
