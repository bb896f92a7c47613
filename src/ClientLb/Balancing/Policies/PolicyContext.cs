using System.Collections.Concurrent;

namespace ClientLb.Balancing.Policies;

/// <summary>
/// What a policy may use when it builds a picker for one service: the service's options, the process's locality,
/// the clock, and state that outlives pickers (e.g. sticky sessions). One context lives as long as the service's balancer.
/// </summary>
public sealed class PolicyContext
{
    // Created on first use: only the policies that keep state (sticky, hash) ask, and most services use neither.
    private ConcurrentDictionary<Type, object>? _state;
    private ServiceOptions _options;
    private LocalityOptions _locality;

    /// <summary>Creates a context.</summary>
    public PolicyContext(string serviceId, ServiceOptions? options = null, LocalityOptions? locality = null, TimeProvider? timeProvider = null)
    {
        ServiceId = serviceId ?? throw new ArgumentNullException(nameof(serviceId));
        _options = options ?? new ServiceOptions();
        _locality = locality ?? new LocalityOptions();
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The service id, for messages.</summary>
    public string ServiceId { get; }

    /// <summary>The service's options (its configuration entry, or defaults).</summary>
    public ServiceOptions Options => Volatile.Read(ref _options);

    /// <summary>Where this process runs.</summary>
    public LocalityOptions Locality => Volatile.Read(ref _locality);

    /// <summary>The clock (timestamps for latency and timeouts).</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Returns state of type <typeparamref name="T"/> kept for this service across picker rebuilds, creating it once.</summary>
    public T GetOrAddState<T>(Func<T> create) where T : class =>
        (T)LazyInitializer.EnsureInitialized(ref _state, static () => new()).GetOrAdd(typeof(T), static (_, c) => c(), create);

    internal void Update(ServiceOptions options, LocalityOptions locality)
    {
        Volatile.Write(ref _options, options);
        Volatile.Write(ref _locality, locality);
    }
}
