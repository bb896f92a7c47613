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
    public string? Namespace { get; set; }

    /// <summary>The opaque version of this object, used to resume watches.</summary>
    public string? ResourceVersion { get; set; }

    /// <summary>The object's labels.</summary>
    public Dictionary<string, string>? Labels { get; set; }
}

/// <summary>The <c>metadata</c> of a list (ListMeta).</summary>
internal sealed class ListMeta
{
    /// <summary>The collection's resourceVersion at the time of the list: where a watch continues.</summary>
    public string? ResourceVersion { get; set; }

    /// <summary>Set when more items are available with this continue token.</summary>
    public string? Continue { get; set; }
}
