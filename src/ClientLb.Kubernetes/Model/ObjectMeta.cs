namespace ClientLb.Kubernetes.Model;

/// <summary>
/// The subset of <c>metadata</c> (ObjectMeta) that service discovery reads; everything else (annotations, managed fields)
/// is skipped while decoding, so it is never kept.
/// </summary>
internal sealed class ObjectMeta
{
    /// <summary>The object's name.</summary>
    public string? Name { get; set; }

    /// <summary>The object's namespace.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? Namespace { get; set; }

    /// <summary>The opaque version of this object, used to resume watches.</summary>
    public string? ResourceVersion { get; set; }

    /// <summary>
    /// The object's labels. Once a watch keeps the object (<see cref="CompactLabels"/>) only the two ClientLb reads are
    /// left, and each read makes a new dictionary of them (so they are still serialized, e.g. by the node relay).
    /// </summary>
    public Dictionary<string, string>? Labels
    {
        get => _labels ?? KeptLabels();
        set => _labels = value;
    }

    private Dictionary<string, string>? _labels;
    // The two labels ClientLb reads, kept as fields once a kept slice drops its label dictionary (CompactLabels).
    private string? _serviceName;
    private string? _managedBy;

    /// <summary>The <c>kubernetes.io/service-name</c> label: the Service an EndpointSlice belongs to.</summary>
    internal string? ServiceNameLabel => _labels is { } labels ? labels.GetValueOrDefault(ServiceNameKey) : _serviceName;

    /// <summary>The <c>endpointslice.kubernetes.io/managed-by</c> label: who writes an EndpointSlice.</summary>
    internal string? ManagedByLabel => _labels is { } labels ? labels.GetValueOrDefault(ManagedByKey) : _managedBy;

    /// <summary>The label that ties an EndpointSlice to its Service (written once here; the cache and the requests use it).</summary>
    internal const string ServiceNameKey = "kubernetes.io/service-name";
    private const string ManagedByKey = "endpointslice.kubernetes.io/managed-by";

    /// <summary>
    /// Keeps of <see cref="Labels"/> only the two ClientLb reads, as fields, and drops the dictionary (about 290 bytes
    /// per slice a watch keeps). <paramref name="serviceName"/>, equal to the service-name label, is kept instead of the
    /// decoded copy.
    /// </summary>
    internal void CompactLabels(string? serviceName = null)
    {
        if (_labels is { } labels)
        {
            string? label = labels.GetValueOrDefault(ServiceNameKey);
            _serviceName = label == serviceName ? serviceName : label;
            _managedBy = labels.GetValueOrDefault(ManagedByKey);
            _labels = null;
        }
    }

    private Dictionary<string, string>? KeptLabels()
    {
        if (_serviceName is null && _managedBy is null)
        {
            return null;
        }
        var labels = new Dictionary<string, string>(2);
        if (_serviceName is not null)
        {
            labels[ServiceNameKey] = _serviceName;
        }
        if (_managedBy is not null)
        {
            labels[ManagedByKey] = _managedBy;
        }
        return labels;
    }
}

/// <summary>The <c>metadata</c> of a list (ListMeta).</summary>
internal sealed class ListMeta
{
    /// <summary>The collection's resourceVersion at the time of the list: where a watch continues.</summary>
    public string? ResourceVersion { get; set; }

    /// <summary>Set when more items are available with this continue token.</summary>
    public string? Continue { get; set; }
}
