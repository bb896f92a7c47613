namespace ClientLb.Kubernetes.Model;

/// <summary>The subset of <c>metadata</c> (ObjectMeta) that service discovery reads.</summary>
public sealed class ObjectMeta
{
    /// <summary>The object's name.</summary>
    public string? Name { get; set; }

    /// <summary>The object's namespace.</summary>
    public string? Namespace { get; set; }

    /// <summary>The object's UID.</summary>
    public string? Uid { get; set; }

    /// <summary>The opaque version of this object, used to resume watches.</summary>
    public string? ResourceVersion { get; set; }

    /// <summary>The object's labels.</summary>
    public Dictionary<string, string>? Labels { get; set; }

    /// <summary>The object's annotations.</summary>
    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>Set when the object is being deleted.</summary>
    public DateTimeOffset? DeletionTimestamp { get; set; }
}

/// <summary>The <c>metadata</c> of a list (ListMeta).</summary>
public sealed class ListMeta
{
    /// <summary>The collection's resourceVersion at the time of the list: where a watch continues.</summary>
    public string? ResourceVersion { get; set; }

    /// <summary>Set when more items are available with this continue token.</summary>
    public string? Continue { get; set; }
}
