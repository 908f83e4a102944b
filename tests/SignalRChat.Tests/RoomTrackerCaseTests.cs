using System.Text.Json;
using System.Text.Json.Nodes;
using SignalRChat.Client;
using SignalRChat.Contracts;
using SignalRChat.Tests.Infrastructure;

namespace SignalRChat.Tests;

/// <summary>The .NET client's room tracker against the table of cases (tests/cases/room-tracker.json) that the TypeScript client's tracker runs too.</summary>
public sealed class RoomTrackerCaseTests
{
    private static readonly string CasesFile = Path.Combine(Paths.Root, "tests", "cases", "room-tracker.json");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var node in Load())
        {
            data.Add(node!["name"]!.GetValue<string>());
        }

        return data;
    }

    [Fact]
    public void The_table_has_cases() => Assert.True(Load().Count > 10);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string name)
    {
        var steps = Load().Single(c => c!["name"]!.GetValue<string>() == name)!["steps"]!.AsArray();
        var tracker = new RoomTracker();
        var compact = new HashSet<long>();
        var index = 0;
        foreach (var step in steps)
        {
            index++;
            var expected = step!["out"]!.AsArray().Select(o => o!.ToJsonString()).ToList();
            var actual = Run(tracker, step.AsObject(), compact).Select(o => o.ToJsonString()).ToList();
            Assert.True(expected.SequenceEqual(actual),
                $"step {index} ({step.ToJsonString()}): expected [{string.Join(", ", expected)}], got [{string.Join(", ", actual)}]");
        }
    }

    private static JsonArray Load() => JsonNode.Parse(File.ReadAllText(CasesFile))!["cases"]!.AsArray();

    /// <summary>Feeds one input to the tracker as the client does, and returns what follows from it.</summary>
    private static List<JsonObject> Run(RoomTracker tracker, JsonObject step, HashSet<long> compact)
    {
        JsonObject Applied(RoomEvent roomEvent) => RoomTrackerCaseTests.Applied(roomEvent, compact);

        var output = new List<JsonObject>();
        if (step.ContainsKey("join"))
        {
            tracker.BeginJoin();
        }
        else if (step["snapshot"] is { } snapshot)
        {
            var reset = tracker.Rejoining;
            var ready = tracker.CompleteJoin(snapshot.GetValue<long>(), step["running"]?.GetValue<string>());
            output.Add(new JsonObject { ["snapshot"] = snapshot.GetValue<long>(), ["reset"] = reset });
            output.AddRange(ready.Select(Applied));
        }
        else if (step.ContainsKey("joinFailed"))
        {
            tracker.AbortJoin();
        }
        else if (step["event"] is JsonObject input)
        {
            if (input["kind"]?.GetValue<string>() == "t")
            {
                compact.Add(input["seq"]!.GetValue<long>());
            }

            output.AddRange(tracker.Receive(EventOf(input)).Select(Applied));
        }
        else if (step.ContainsKey("reconnect"))
        {
            tracker.Reconnected();
        }
        else if (step["resumed"] is JsonObject resumed)
        {
            tracker.Resumed(new ResumeResult("r", 0, resumed["toSeq"]!.GetValue<long>(), resumed["reset"]!.GetValue<bool>()));
        }
        else if (step.ContainsKey("resumeRefused"))
        {
            tracker.ResumeFailed();
        }
        else if (step["resume"] is { } resume)
        {
            tracker.BeginResume(resume.GetValue<long>());
        }
        else if (step.ContainsKey("leave"))
        {
            tracker.Leave();
        }
        else
        {
            throw new InvalidOperationException($"unknown step {step.ToJsonString()}");
        }

        var action = tracker.NextAction();
        switch (action.Kind)
        {
            case TrackerActionKind.Resume:
                output.Add(new JsonObject { ["resume"] = action.AfterSeq });
                break;
            case TrackerActionKind.Rejoin:
                output.Add(new JsonObject { ["rejoin"] = true });
                break;
        }

        return output;
    }

    /// <summary>An input event: a contract token (generation "g") by default, <c>t</c> a compact one (no generation id), a status, or a presence.</summary>
    private static RoomEvent EventOf(JsonObject input)
    {
        var seq = input["seq"]!.GetValue<long>();
        var firstSeq = input["firstSeq"]?.GetValue<long>();
        return input["kind"]?.GetValue<string>() switch
        {
            "presence" => new PresenceEvent("r", "u", "n", PresenceStates.Joined) { Seq = seq },
            "status" => new StatusEvent("r", input["generationId"]!.GetValue<string>(), input["state"]!.GetValue<string>()) { Seq = seq },
            "t" => new TokenEvent("r", string.Empty, "t") { Seq = seq, FirstSeq = firstSeq },
            _ => new TokenEvent("r", "g", "t") { Seq = seq, FirstSeq = firstSeq },
        };
    }

    /// <summary>What the app is handed; for a compact delta, with the generation the tracker gave it.</summary>
    private static JsonObject Applied(RoomEvent roomEvent, HashSet<long> compact)
    {
        var output = new JsonObject { ["apply"] = roomEvent.Seq };
        if (roomEvent is TokenEvent { FirstSeq: { } first })
        {
            output["firstSeq"] = first;
        }

        if (roomEvent is TokenEvent token && compact.Contains(token.Seq))
        {
            output["generationId"] = token.GenerationId;
        }

        return output;
    }
}
