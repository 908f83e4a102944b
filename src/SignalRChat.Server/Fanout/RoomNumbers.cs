namespace SignalRChat.Server.Fanout;

/// <summary>
/// Short numbers for the rooms this node holds, which compact token deltas carry instead of the room id
/// (<c>tokens=compact</c>). A number is a room's from the start of its loop until the room is released,
/// and the lowest free number is given out first, so numbers stay as small as the count of rooms held now
/// (one byte in MessagePack below 128, a few digits in JSON) however many rooms came and went.
/// </summary>
internal sealed class RoomNumbers
{
    private readonly Lock _lock = new();
    private readonly PriorityQueue<int, int> _free = new();
    private int _next = 1;

    public int Take()
    {
        lock (_lock)
        {
            return _free.TryDequeue(out var number, out _) ? number : _next++;
        }
    }

    public void Give(int number)
    {
        if (number <= 0)
        {
            return;
        }

        lock (_lock)
        {
            _free.Enqueue(number, number);
        }
    }
}
