using System.Net;
using ClientLb.Balancing;
using ClientLb.Endpoints;

namespace ClientLb.Tests.LoadBalancing;

internal static class PickerTestKit
{
    public static List<BalancedEndpoint> Make(int count, Func<int, int>? weight = null) =>
        [.. Enumerable.Range(1, count).Select(i => new BalancedEndpoint(
            new Endpoint(new IPAddress([127, 0, (byte)(i / 250), (byte)(i % 250 + 1)]), 80, weight: weight?.Invoke(i - 1) ?? 1), "svc.default"))];

    public static Dictionary<BalancedEndpoint, int> Count(EndpointPicker picker, int picks, HttpRequestMessage? request = null, BalancedEndpoint? exclude = null)
    {
        var counts = new Dictionary<BalancedEndpoint, int>();
        for (int i = 0; i < picks; i++)
        {
            BalancedEndpoint e = picker.Pick(new PickContext(request, exclude));
            counts[e] = counts.GetValueOrDefault(e) + 1;
        }
        return counts;
    }

    /// <summary>Bytes allocated by <paramref name="picks"/> picks on this thread, after one warm-up pick.</summary>
    public static long AllocatedPerPicks(EndpointPicker picker, HttpRequestMessage? request = null, int picks = 10_000)
    {
        picker.Pick(new PickContext(request));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < picks; i++)
        {
            picker.Pick(new PickContext(request));
        }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
