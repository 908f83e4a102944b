namespace SignalRChat.Server.Model;

/// <summary>
/// Room messages the model server refused as input (HTTP 400): left out of every later prompt on this
/// node, so one message cannot make every later reply in its room fail. Bounded: the oldest marks go
/// first, and a forgotten one only costs a retry without history (see <see cref="RejectedInputChatClient"/>).
/// </summary>
internal sealed class RejectedMessages
{
    private const int Capacity = 10_000;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public bool Contains(string messageId)
    {
        lock (_lock)
        {
            return _ids.Contains(messageId);
        }
    }

    public void Add(string messageId)
    {
        lock (_lock)
        {
            if (!_ids.Add(messageId))
            {
                return;
            }

            _order.Enqueue(messageId);
            if (_order.Count > Capacity)
            {
                _ids.Remove(_order.Dequeue());
            }
        }
    }
}
