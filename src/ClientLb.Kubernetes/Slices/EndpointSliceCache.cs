using System.Collections.Immutable;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Slices;

/// <summary>
/// The Services and EndpointSlices one list+watch pair has seen, grouped by service: per (namespace, name) the v1 Service
/// and the slices labelled with its name (<see cref="ServiceNameLabel"/>), sorted by slice name. An event replaces one
/// slice; a relabelled slice moves to its new service and one that lost the label leaves; a list replaces everything.
/// Read a service with <see cref="Get"/> (an immutable <see cref="ServiceSlices"/>, safe on any thread); the watches that
/// own the cache write it (the SDK's watch scopes, and <see cref="Watching.EndpointSliceWatch"/> for the agent).
/// </summary>
public sealed class EndpointSliceCache
{
    /// <summary>The label that ties an EndpointSlice to its Service.</summary>
    public const string ServiceNameLabel = ObjectMeta.ServiceNameKey;

    // Per service, its Service and its slices sorted by name (handed out as they are, so a read copies nothing).
    private readonly Dictionary<ServiceKey, Entry> _services = [];
    // Which service each slice belongs to, so an event finds its service without scanning them all.
    private readonly Dictionary<ServiceKey, string> _serviceOfSlice = [];
    // Service, zone and node names of the kept objects, one string each (see EndpointSlice.Compact).
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly string? _namespace;
    private readonly Func<string, string, bool>? _wanted;

    /// <summary>Creates an empty cache.</summary>
    /// <param name="ns">The namespace objects without one belong to (a namespaced list's); null for cluster-wide lists.</param>
    /// <param name="wanted">Which services (namespace, name) to keep; null for all.</param>
    internal EndpointSliceCache(string? ns, Func<string, string, bool>? wanted = null)
    {
        _namespace = string.IsNullOrEmpty(ns) ? null : ns;
        _wanted = wanted;
    }

    /// <summary>Taken by every read and, by the watch that owns the cache, around every write.</summary>
    internal Lock Gate { get; } = new();

    /// <summary>Whether both the Services and the EndpointSlices have been listed at least once.</summary>
    public bool Synced
    {
        get
        {
            lock (Gate)
            {
                return SlicesListed && ServicesListed;
            }
        }
    }

    internal bool SlicesListed { get; private set; }

    internal bool ServicesListed { get; private set; }

    /// <summary>The resourceVersion of the last slice list or event.</summary>
    internal string? SlicesVersion { get; private set; }

    /// <summary>The resourceVersion of the last Service list or event.</summary>
    internal string? ServicesVersion { get; private set; }

    /// <summary>The service as the cache has it now; without slices and Service when it knows nothing of it.</summary>
    public ServiceSlices Get(string ns, string name)
    {
        ArgumentNullException.ThrowIfNull(ns);
        ArgumentNullException.ThrowIfNull(name);
        lock (Gate)
        {
            return GetLocked(new ServiceKey(ns, name));
        }
    }

    /// <summary>Every service the cache knows (with a Service, slices or both), in no particular order.</summary>
    public IReadOnlyList<ServiceSlices> GetAll()
    {
        lock (Gate)
        {
            return [.. _services.Keys.Select(GetLocked)];
        }
    }

    /// <summary><see cref="Get"/> under <see cref="Gate"/>.</summary>
    internal ServiceSlices GetLocked(ServiceKey key)
    {
        Entry? entry = _services.GetValueOrDefault(key);
        return new ServiceSlices(key.Namespace, key.Name, entry?.Service, entry?.Slices ?? [], SlicesListed && ServicesListed)
        {
            SlicesVersion = SlicesVersion,
            ServicesVersion = ServicesVersion,
        };
    }

    /// <summary>A full slice list replaced what was known; adds every service whose slices may have changed to <paramref name="touched"/>.</summary>
    internal void ListSlices(IReadOnlyList<EndpointSlice> items, string? version, ISet<ServiceKey> touched)
    {
        foreach ((ServiceKey key, Entry entry) in _services)
        {
            if (!entry.Slices.IsEmpty)
            {
                touched.Add(key);
                entry.Slices = [];
            }
        }
        _serviceOfSlice.Clear();
        var grouped = new Dictionary<ServiceKey, List<EndpointSlice>>();
        foreach (EndpointSlice slice in items)
        {
            if (slice.Metadata.Name is string name && OwnerOf(slice) is ServiceKey service && _serviceOfSlice.TryAdd(new ServiceKey(service.Namespace, name), service.Name))
            {
                slice.Compact(_names, service.Name);
                if (!grouped.TryGetValue(service, out List<EndpointSlice>? list))
                {
                    grouped[service] = list = [];
                }
                list.Add(slice);
                touched.Add(service);
            }
        }
        foreach ((ServiceKey service, List<EndpointSlice> list) in grouped)
        {
            list.Sort(static (a, b) => string.CompareOrdinal(a.Metadata.Name, b.Metadata.Name));
            EntryOf(service).Slices = [.. list];
        }
        RemoveEmpty();
        SlicesListed = true;
        SlicesVersion = version;
    }

    /// <summary>A slice was added or modified; adds its service (and the one it left, if relabelled) to <paramref name="touched"/>.</summary>
    internal void UpsertSlice(EndpointSlice slice, ISet<ServiceKey> touched)
    {
        SlicesVersion = slice.Metadata.ResourceVersion ?? SlicesVersion;
        if (slice.Metadata.Name is not string name)
        {
            return;
        }
        ServiceKey? owner = OwnerOf(slice);
        var sliceKey = new ServiceKey(NamespaceOf(slice.Metadata), name);
        if (_serviceOfSlice.TryGetValue(sliceKey, out string? before) && before != owner?.Name)
        {
            // Relabelled, or no longer a slice of a wanted service: it leaves the service it belonged to.
            var left = new ServiceKey(sliceKey.Namespace, before);
            RemoveSlice(left, name);
            _serviceOfSlice.Remove(sliceKey);
            touched.Add(left);
        }
        if (owner is not ServiceKey service)
        {
            return;
        }
        _serviceOfSlice[sliceKey] = service.Name;
        slice.Compact(_names, service.Name);
        Entry entry = EntryOf(service);
        int at = IndexOf(entry.Slices, name);
        entry.Slices = at >= 0 ? entry.Slices.SetItem(at, slice) : entry.Slices.Insert(~at, slice);
        touched.Add(service);
    }

    /// <summary>A slice was deleted; adds its service to <paramref name="touched"/>.</summary>
    internal void DeleteSlice(EndpointSlice slice, ISet<ServiceKey> touched)
    {
        // A deleted object carries the resourceVersion of its deletion.
        SlicesVersion = slice.Metadata.ResourceVersion ?? SlicesVersion;
        if (slice.Metadata.Name is string name && _serviceOfSlice.Remove(new ServiceKey(NamespaceOf(slice.Metadata), name), out string? service))
        {
            var key = new ServiceKey(NamespaceOf(slice.Metadata), service);
            RemoveSlice(key, name);
            touched.Add(key);
        }
    }

    /// <summary>A full Service list replaced what was known; adds every service that had or has a Service to <paramref name="touched"/>.</summary>
    internal void ListServices(IReadOnlyList<Service> items, string? version, ISet<ServiceKey> touched)
    {
        foreach ((ServiceKey key, Entry entry) in _services)
        {
            if (entry.Service is not null)
            {
                touched.Add(key);
                entry.Service = null;
            }
        }
        foreach (Service service in items)
        {
            if (KeepAs(service) is ServiceKey key)
            {
                EntryOf(key).Service = service;
                touched.Add(key);
            }
        }
        RemoveEmpty();
        ServicesListed = true;
        ServicesVersion = version;
    }

    /// <summary>A Service was added or modified; adds it to <paramref name="touched"/> when the cache keeps it.</summary>
    internal void UpsertService(Service service, ISet<ServiceKey> touched)
    {
        ServicesVersion = service.Metadata.ResourceVersion ?? ServicesVersion;
        if (KeepAs(service) is ServiceKey key)
        {
            EntryOf(key).Service = service;
            touched.Add(key);
        }
    }

    /// <summary>A Service was deleted; adds it to <paramref name="touched"/> when the cache had it.</summary>
    internal void DeleteService(Service service, ISet<ServiceKey> touched)
    {
        ServicesVersion = service.Metadata.ResourceVersion ?? ServicesVersion;
        if (service.Metadata.Name is string name && _services.TryGetValue(new ServiceKey(NamespaceOf(service.Metadata), name), out Entry? entry) && entry.Service is not null)
        {
            var key = new ServiceKey(NamespaceOf(service.Metadata), name);
            entry.Service = null;
            if (entry.Slices.IsEmpty)
            {
                _services.Remove(key);
            }
            touched.Add(key);
        }
    }

    private string NamespaceOf(ObjectMeta metadata) => _namespace ?? metadata.Namespace ?? "";

    /// <summary>The service a slice belongs to by its label, when the cache keeps that service.</summary>
    private ServiceKey? OwnerOf(EndpointSlice slice)
    {
        if (slice.Metadata.ServiceNameLabel is not { Length: > 0 } service)
        {
            return null;
        }
        string ns = NamespaceOf(slice.Metadata);
        return _wanted is null || _wanted(ns, service) ? new ServiceKey(ns, SharedName(service)) : null;
    }

    private ServiceKey? KeepAs(Service service)
    {
        if (service.Metadata.Name is not string name)
        {
            return null;
        }
        string ns = NamespaceOf(service.Metadata);
        if (_wanted is not null && !_wanted(ns, name))
        {
            return null;
        }
        // The kept Service, its slices and the cache's keys share one string for the name.
        service.Compact(name = SharedName(name));
        return new ServiceKey(ns, name);
    }

    // One string per service name: a Service and each of its slices decode their own copy.
    private string SharedName(string name)
    {
        if (!_names.TryGetValue(name, out string? shared))
        {
            _names[name] = shared = name;
        }
        return shared;
    }

    private Entry EntryOf(ServiceKey key)
    {
        if (!_services.TryGetValue(key, out Entry? entry))
        {
            _services[key] = entry = new Entry();
        }
        return entry;
    }

    private void RemoveSlice(ServiceKey service, string slice)
    {
        if (!_services.TryGetValue(service, out Entry? entry))
        {
            return;
        }
        int at = IndexOf(entry.Slices, slice);
        if (at < 0)
        {
            return;
        }
        entry.Slices = entry.Slices.Length == 1 ? [] : entry.Slices.RemoveAt(at);
        if (entry.Slices.IsEmpty && entry.Service is null)
        {
            _services.Remove(service);
        }
    }

    private void RemoveEmpty()
    {
        foreach ((ServiceKey key, Entry entry) in _services)
        {
            if (entry.Service is null && entry.Slices.IsEmpty)
            {
                _services.Remove(key); // allowed while enumerating since .NET Core 3.0
            }
        }
    }

    /// <summary>Binary search by slice name: the index, or the complement of where it would go.</summary>
    private static int IndexOf(ImmutableArray<EndpointSlice> slices, string name)
    {
        int lo = 0, hi = slices.Length - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            int order = string.CompareOrdinal(slices[mid].Metadata.Name, name);
            if (order == 0)
            {
                return mid;
            }
            if (order < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return ~lo;
    }

    private sealed class Entry
    {
        public Service? Service { get; set; }

        public ImmutableArray<EndpointSlice> Slices { get; set; } = [];
    }
}

/// <summary>A service's namespace and name.</summary>
internal readonly record struct ServiceKey(string Namespace, string Name)
{
    /// <summary><c>namespace/name</c>.</summary>
    public override string ToString() => Namespace + "/" + Name;
}
