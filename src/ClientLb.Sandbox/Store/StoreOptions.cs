namespace ClientLb.Sandbox.Store;

/// <summary>Options of a single delete call (query parameters or a DeleteOptions body).</summary>
internal sealed record DeleteOptions(long? GracePeriodSeconds = null, string? PreconditionUid = null, string? PreconditionResourceVersion = null);

/// <summary>One page of a list: items at the store's resourceVersion, and a continue token when more remain.</summary>
internal sealed record ListResult(IReadOnlyList<StoredObject> Items, long ResourceVersion, string? Continue, long? RemainingItemCount);
