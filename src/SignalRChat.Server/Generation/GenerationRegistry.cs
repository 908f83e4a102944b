using System.Collections.Concurrent;

namespace SignalRChat.Server.Generation;

/// <summary>Live generations by id, and the rooms of recently finished ones (so a late cancel is judged, not guessed).</summary>
internal sealed class GenerationRegistry
{
    private const int RememberFinished = 10_000;

    private readonly ConcurrentDictionary<string, Generation> _live = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _finishedRooms = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _finishedOrder = new();

    public int LiveCount => _live.Count;

    public void Add(Generation generation) => _live[generation.Id] = generation;

    public Generation? FindLive(string generationId) => _live.GetValueOrDefault(generationId);

    public string? FindRoom(string generationId) =>
        _live.TryGetValue(generationId, out var generation) ? generation.RoomId : _finishedRooms.GetValueOrDefault(generationId);

    public IReadOnlyCollection<Generation> Live => (IReadOnlyCollection<Generation>)_live.Values;

    public void Finished(Generation generation)
    {
        _finishedRooms[generation.Id] = generation.RoomId;
        _finishedOrder.Enqueue(generation.Id);
        _live.TryRemove(generation.Id, out _);
        while (_finishedOrder.Count > RememberFinished && _finishedOrder.TryDequeue(out var old))
        {
            _finishedRooms.TryRemove(old, out _);
        }
    }
}
