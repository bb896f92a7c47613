using System.Runtime.CompilerServices;
using ClientLb.Attempts;
using Microsoft.Extensions.ObjectPool;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// Awaits a call's first attempt without an async state machine: a pooled continuation that completes the call's task
/// itself when the answer is a call under way (nearly every call), and hands anything else (a failure, a status in the
/// headers) to the handler's attempt loop. Per call this leaves only the task grpc-dotnet awaits, a bare promise that a
/// task builder completes (no completion source, no value-task wrapper); an async method would add its state machine
/// (about 0.3 KB with the loop's state).
/// </summary>
internal sealed class FirstAttempt
{
    // Enough for the calls under way at once on a busy client; past it, attempts are created and dropped as needed.
    private static readonly ObjectPool<FirstAttempt> Pool = new DefaultObjectPool<FirstAttempt>(new DefaultPooledObjectPolicy<FirstAttempt>(), 256);
    private static readonly ContextCallback ContinueInContext = static state => ((FirstAttempt)state!).Continue();

    private readonly Action _onSent;
    private readonly Action _onRest;
    // The call's task: the builder an async method would use, without the method. Its task is a promise completed once.
    private AsyncTaskMethodBuilder<HttpResponseMessage> _task;
    private ClientLbGrpcHandler? _handler;
    private CallPlan _call;
    private AttemptStart _first;
    private Task<HttpResponseMessage>? _sent;
    private ExecutionContext? _context;
    private Task<HttpResponseMessage>? _rest;

    /// <summary>For the pool.</summary>
    public FirstAttempt()
    {
        _onSent = OnSent;
        _onRest = OnRest;
    }

    /// <summary>The call's task: completed when <paramref name="first"/>'s send (<paramref name="sent"/>, not yet complete) answers, or by the attempt loop.</summary>
    public static Task<HttpResponseMessage> Run(ClientLbGrpcHandler handler, in CallPlan call, in AttemptStart first, Task<HttpResponseMessage> sent)
    {
        FirstAttempt attempt = Pool.Get();
        attempt._handler = handler;
        attempt._call = call;
        attempt._first = first;
        attempt._sent = sent;
        // The loop, if it takes over, runs in the caller's context (its activity is the parent of a retry's), as an async
        // method would.
        attempt._context = ExecutionContext.Capture();
        attempt._task = AsyncTaskMethodBuilder<HttpResponseMessage>.Create();
        // Read before the continuation is registered: once it runs, the attempt may be back in the pool.
        Task<HttpResponseMessage> task = attempt._task.Task;
        sent.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(attempt._onSent);
        return task;
    }

    // The answer is a call under way nearly always: completed here, in whatever context the send completed in (the
    // accounting needs none of the caller's). Anything else goes to the loop, in the caller's context.
    private void OnSent()
    {
        HttpResponseMessage? response;
        try
        {
            response = ClientLbGrpcHandler.TryCompleteFirst(_call, _first, _sent!);
        }
        catch (Exception ex)
        {
            Complete(null, ex);
            return;
        }
        if (response is not null)
        {
            Complete(response, null);
        }
        else if (_context is null)
        {
            Continue();
        }
        else
        {
            ExecutionContext.Run(_context, ContinueInContext, this);
        }
    }

    // The attempt loop takes the call on; it completes the call's task when it ends.
    private void Continue()
    {
        Task<HttpResponseMessage> rest = _handler!.RunAsync(_call, _first, _sent);
        _rest = rest;
        if (rest.IsCompleted)
        {
            OnRest();
        }
        else
        {
            rest.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onRest);
        }
    }

    private void OnRest()
    {
        HttpResponseMessage response;
        try
        {
            response = _rest!.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            Complete(null, ex);
            return;
        }
        Complete(response, null);
    }

    // Back to the pool first, then the call's task completes: its continuation (grpc-dotnet's, and the caller's next call
    // with it) may run inline here and take this attempt again.
    private void Complete(HttpResponseMessage? response, Exception? error)
    {
        AsyncTaskMethodBuilder<HttpResponseMessage> task = _task;
        _task = default;
        _handler = null;
        _call = default;
        _first = default;
        _sent = null;
        _context = null;
        _rest = null;
        Pool.Return(this);
        if (error is null)
        {
            task.SetResult(response!);
        }
        else
        {
            // As an async method's: a cancellation ends the task cancelled, anything else faulted.
            task.SetException(error);
        }
    }
}
