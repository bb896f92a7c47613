namespace ClientLb.Kubernetes.Watching;

/// <summary>The timing of list+watch loops, from <see cref="KubernetesSourceOptions"/>.</summary>
internal sealed record WatchSettings(TimeSpan WatchTimeout, TimeSpan ResyncInterval, TimeSpan ReconnectDelay, TimeSpan MaxReconnectDelay)
{
    public static WatchSettings From(KubernetesSourceOptions options) =>
        new(options.WatchTimeout, options.ResyncInterval, options.ReconnectDelay, options.MaxReconnectDelay);
}
