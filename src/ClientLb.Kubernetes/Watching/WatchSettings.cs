namespace ClientLb.Kubernetes.Watching;

/// <summary>The timing of list+watch loops, from <see cref="KubernetesSourceOptions"/>.</summary>
internal sealed record WatchSettings(TimeSpan WatchTimeout, TimeSpan ResyncInterval, TimeSpan ReconnectDelay, TimeSpan MaxReconnectDelay)
{
    /// <summary>See <see cref="KubernetesSourceOptions.ServicePollInterval"/>.</summary>
    public TimeSpan ServicePollInterval { get; init; } = TimeSpan.FromSeconds(30);

    public static WatchSettings From(KubernetesSourceOptions options) =>
        new(options.WatchTimeout, options.ResyncInterval, options.ReconnectDelay, options.MaxReconnectDelay) { ServicePollInterval = options.ServicePollInterval };
}
