using System.Text.Json.Nodes;
using MessagePack;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Server.Hubs;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

public sealed class MessagePackTests
{
    [Fact]
    public async Task The_dotnet_client_reads_the_contract_records_over_MessagePack()
    {
        await using var server = await ChatServer.StartAsync();
        var session = await ChatClient.SignInAsGuestAsync(server.Url, "packer");
        await using var client = new ChatClient(server.Url, session.Token,
            builder => builder.AddMessagePackProtocol(options => options.SerializerOptions = ContractMessagePack.Options));
        await client.StartAsync();
        var log = new EventLog(client);

        var snapshot = await client.CreateRoomAsync("packed", RoomVisibility.Public);
        Assert.Equal("packed", snapshot.RoomId);
        Assert.Null(snapshot.ActiveGeneration);
        Assert.Equal(["packer"], snapshot.Members.Select(m => m.Name));

        var reply = await client.AskAsync("packed", "calculate 17*23");
        var final = await log.WaitForFinalAsync(reply.GenerationId);
        Assert.Equal(GenerationStates.Completed, final.State);
        Assert.Contains("391", final.Text);
        Assert.Equal(final.Text, log.TextOf(reply.GenerationId));
        Assert.Contains(log.Events.OfType<ToolProgressEvent>(), e => e.Tool == "calculator" && e.Phase == "completed");
        var message = Assert.Single(log.Events.OfType<MessageEvent>(), e => e.Message.Role == "user");
        Assert.Equal("calculate 17*23", message.Message.Text);
        Assert.NotEqual(default, message.Message.CreatedAt);
    }

    [Fact]
    public void Contract_records_are_maps_with_the_JSON_names()
    {
        var token = new TokenEvent("room", "gen", "hi") { Seq = 7 };
        var bytes = MessagePackSerializer.Serialize<RoomEvent>(token, ContractMessagePack.Options);
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"roomId":"room","generationId":"gen","text":"hi","seq":7}"""),
            JsonNode.Parse(MessagePackSerializer.ConvertToJson(bytes))), MessagePackSerializer.ConvertToJson(bytes));

        var joined = token with { Seq = 9, FirstSeq = 7, Text = "hi there" };
        var joinedBytes = MessagePackSerializer.Serialize(joined, ContractMessagePack.Options);
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"roomId":"room","generationId":"gen","text":"hi there","seq":9,"firstSeq":7}"""),
            JsonNode.Parse(MessagePackSerializer.ConvertToJson(joinedBytes))), MessagePackSerializer.ConvertToJson(joinedBytes));
        Assert.Equal(joined, MessagePackSerializer.Deserialize<TokenEvent>(joinedBytes, ContractMessagePack.Options));
        Assert.Equal(token, MessagePackSerializer.Deserialize<TokenEvent>(
            MessagePackSerializer.ConvertFromJson("""{"seq":7,"text":"hi","unknown":[1,{"a":2}],"generationId":"gen","roomId":"room"}"""), ContractMessagePack.Options));

        var status = MessagePackSerializer.Deserialize<StatusEvent>(
            MessagePackSerializer.ConvertFromJson("""{"roomId":"r","generationId":"g","seq":3,"state":"failed","error":"boom"}"""), ContractMessagePack.Options);
        Assert.Equal(new StatusEvent("r", "g", "failed", Error: "boom") { Seq = 3 }, status);
    }

    [Fact]
    public void Bad_MessagePack_for_a_record_is_refused_with_a_clear_error()
    {
        var notAMap = MessagePackSerializer.Serialize(new object[] { 1, 2 }, ContractMessagePack.Options);
        var deep = MessagePackSerializer.ConvertFromJson(new string('[', 100) + new string(']', 100));
        Assert.Throws<MessagePackSerializationException>(() => MessagePackSerializer.Deserialize<CreateRoomOptions>(notAMap, ContractMessagePack.Options));
        Assert.Throws<MessagePackSerializationException>(() => MessagePackSerializer.Deserialize<CreateRoomOptions>(deep, ContractMessagePack.Options));
    }
}
