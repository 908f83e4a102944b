namespace SignalRChat.Server.Rooms;

/// <summary>
/// Work woken while a store publishes under a room's lock (a room's delivery loop with nothing to do
/// until then) runs on the publishing thread as soon as the lock is let go, instead of being handed to
/// the thread pool: a delta reaches the members' sockets without a thread hop, and nothing runs under
/// the store's lock but the append itself. The reader of a room's Redis channel opens a scope the same
/// way around each event it hands out. Outside such a scope the work goes to the thread pool as before.
/// </summary>
internal static class WakeAfterLock
{
    [ThreadStatic]
    private static List<IThreadPoolWorkItem>? t_woken;

    [ThreadStatic]
    private static int t_depth;

    /// <summary>Whether this thread is inside a scope (also while the woken work runs at its end).</summary>
    public static bool InScope => t_depth > 0;

    /// <summary>Opens a scope on this thread; what is woken in it runs when the outermost scope is disposed.</summary>
    public static Scope Begin()
    {
        t_depth++;
        return default;
    }

    /// <summary>Runs <paramref name="work"/> at the end of this thread's scope; false when no scope is open (then the caller queues it).</summary>
    public static bool TryDefer(IThreadPoolWorkItem work)
    {
        if (t_depth == 0)
        {
            return false;
        }

        (t_woken ??= []).Add(work);
        return true;
    }

    public readonly struct Scope : IDisposable
    {
        public void Dispose()
        {
            if (t_depth > 1 || t_woken is not { Count: > 0 } woken)
            {
                t_depth--;
                return;
            }

            // Still inside the scope while it runs: what the woken work wakes in turn joins the list.
            var i = 0;
            try
            {
                for (; i < woken.Count; i++)
                {
                    woken[i].Execute();
                }
            }
            catch
            {
                // What was woken is still owed its run.
                for (i++; i < woken.Count; i++)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(woken[i], preferLocal: false);
                }

                throw;
            }
            finally
            {
                woken.Clear();
                t_depth--;
            }
        }
    }
}
