using System.Net.Http.Headers;
using System.Runtime.CompilerServices;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// Gives a wrapping <see cref="HttpContent"/> the headers of the content it wraps. <see cref="HttpContent.Headers"/> has no
/// setter, and a copy costs a header collection and its entry array on every call (about 0.15 KB); so the wrapper takes the
/// inner content's own collection (the runtime's private <c>_headers</c> field, through <see cref="UnsafeAccessorAttribute"/>),
/// and copies only if a runtime lacks that field. The shared collection still computes Content-Length from the inner
/// content, which the wrappers here pass through unchanged.
/// </summary>
internal static class ContentHeaders
{
    private static volatile bool _copy;

    /// <summary>Makes <paramref name="source"/>'s headers <paramref name="target"/>'s (a fresh content with no headers yet).</summary>
    public static void Adopt(HttpContent target, HttpContent source)
    {
        if (!_copy)
        {
            try
            {
                HeadersOf(target) = source.Headers;
                return;
            }
            catch (MissingFieldException)
            {
                _copy = true;
            }
        }
        foreach (KeyValuePair<string, HeaderStringValues> header in source.Headers.NonValidated)
        {
            // One value (Content-Type: application/grpc) as a string: the enumerable overload would box the values.
            if (header.Value.Count == 1)
            {
                target.Headers.TryAddWithoutValidation(header.Key, header.Value.ToString());
            }
            else
            {
                target.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_headers")]
    private static extern ref HttpContentHeaders? HeadersOf(HttpContent content);
}
