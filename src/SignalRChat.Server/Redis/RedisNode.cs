namespace SignalRChat.Server.Redis;

/// <summary>This node's name among the nodes sharing Redis: the owner recorded on the replies it runs, and the name of its Stop channel.</summary>
internal sealed class RedisNode
{
    public string Id { get; } = Environment.MachineName.Replace('{', '_').Replace('}', '_') + "-" + Guid.NewGuid().ToString("N")[..12];
}
