using System.Text.Json;
using SignalRChat.Contracts;
using SignalRChat.Server.Generation;
using SignalRChat.Server.Rooms;

namespace SignalRChat.Server.Tools;

/// <summary>Changes the room's topic (a <c>roomSettings</c> event), as the assistant; by default it runs only once a member approves.</summary>
internal sealed class SetRoomTopicTool(IRoomStore store) : ChatTool
{
    public const string ToolName = "set_room_topic";
    public const int MaxTopicChars = 120;

    private static readonly JsonElement ParametersJson = Schema("""
        {"type":"object","properties":{"topic":{"type":"string","description":"The room's new topic, 1 to 120 characters."}},"required":["topic"],"additionalProperties":false}
        """);

    public override string Name => ToolName;

    public override string Description => "Sets the topic of this chat room, shown to every member.";

    public override JsonElement ParametersSchema => ParametersJson;

    public override async Task<string> RunAsync(ToolArguments arguments, IToolProgress progress, CancellationToken cancellationToken)
    {
        var roomId = ToolEventScope.Current?.RoomId;
        if (string.IsNullOrEmpty(roomId))
        {
            throw new ToolException("set_room_topic works only inside a room's reply");
        }

        var topic = arguments.RequireString("topic").Trim();
        if (topic.Length is 0 or > MaxTopicChars)
        {
            throw new ToolException($"the topic must be 1 to {MaxTopicChars} characters, not {topic.Length}");
        }

        var assistant = new RoomMember(GenerationRunner.AssistantId, GenerationRunner.AssistantName);
        await store.UpdateSettingsAsync(roomId, new RoomSettingsUpdate(Topic: topic), assistant, checkPermission: false, cancellationToken);
        return $"the room's topic is now \"{topic}\"";
    }
}
