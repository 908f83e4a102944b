using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using SignalRChat.Contracts;
using SignalRChat.Server.Approvals;
using SignalRChat.Server.Limits;
using SignalRChat.Server.Model;
using SignalRChat.Server.Rooms;
using SignalRChat.Server.Telemetry;
using SignalRChat.Server.Tools;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using RoomMessage = SignalRChat.Contracts.ChatMessage;

namespace SignalRChat.Server.Generation;

/// <summary>
/// Runs one generation: streams the model's reply into the room as token events, relays tool
/// progress, and ends with exactly one final status. The final status is written after the model
/// loop has stopped, so no token of the generation follows it.
/// </summary>
internal sealed class GenerationRunner(
    IRoomStore store,
    IChatClient chatClient,
    ToolRegistry tools,
    IOptions<ModelOptions> modelOptions,
    IOptions<Fanout.FanoutOptions> fanoutOptions,
    ReplyBudget budget,
    IToolApprovals approvals,
    IOptions<ToolOptions> toolOptions,
    ChatMetrics metrics,
    TimeProvider time,
    ILogger<GenerationRunner> logger)
{
    public const string AssistantId = "assistant";
    public const string AssistantName = "Assistant";

    /// <summary>
    /// Streams the reply and returns what the model loop ended with: completed, failed, or cancelled
    /// because its token was tripped. The generation host decides the final status from it (a Stop
    /// that got in after the model finished still ends it as cancelled) and appends it.
    /// </summary>
    public async Task<StatusEvent> RunAsync(Generation generation)
    {
        // The reply's trace continues the call that asked for it, not whatever ran before on this loop.
        Activity.Current = null;
        using var activity = ChatActivities.Source.StartActivity("generation", ActivityKind.Internal, generation.Origin);
        activity?.SetTag(ChatActivities.RoomIdTag, generation.RoomId);
        activity?.SetTag(ChatActivities.GenerationIdTag, generation.Id);
        activity?.SetTag(ChatActivities.MessageIdTag, generation.AssistantMessageId);
        metrics.GenerationStarted();
        try
        {
            var final = await RunCoreAsync(generation, activity);
            activity?.SetTag(ChatActivities.StateTag, final.State);
            if (final.State == GenerationStates.Failed)
            {
                activity?.SetStatus(ActivityStatusCode.Error, final.Error);
            }

            return final;
        }
        finally
        {
            metrics.GenerationEnded();
        }
    }

    private async Task<StatusEvent> RunCoreAsync(Generation generation, Activity? activity)
    {
        var started = time.GetTimestamp();
        var cancellation = generation.Cancellation.Token;
        var batcher = new TokenBatcher(store, generation.RoomId, generation.Id, fanoutOptions.Value.DeliveryWindow, time, fanoutOptions.Value.JoinGap);
        var events = new GenerationEvents(store, generation, batcher);
        long? firstTokenAt = null;
        var tokens = 0;
        UsageDetails? usage = null;
        long inputEstimate = 0;
        string? note = null;
        var cost = ReplyCost.Begin();
        var state = GenerationStates.Completed;
        string? error = null;
        generation.Started = true;

        try
        {
            await store.AppendAsync(new MessageEvent(generation.RoomId, new RoomMessage(generation.AssistantMessageId, 0, AssistantId, AssistantName,
                MessageRoles.Assistant, string.Empty, MessageStates.Generating, time.GetUtcNow())
            {
                ReplyTo = generation.UserMessageId,
                Regenerates = generation.Regenerates,
            }), CancellationToken.None);
            await events.SetStateAsync(GenerationStates.Thinking);

            var prompt = await BuildPromptAsync(generation);
            var settings = modelOptions.Value;
            var options = new ChatOptions { Tools = [.. tools.Functions], ToolMode = ChatToolMode.Auto, MaxOutputTokens = settings.MaxOutputTokens };
            inputEstimate = prompt.Sum(m => (long)PromptHistory.EstimateTokens(m.Text));
            var remaining = await RemainingOrNoneAsync(generation);
            Task<long?>? reading = null;
            using (ToolEventScope.Enter(events))
            {
                // A tool that needs approval ends a round with its approval requests; the decisions go back with the
                // conversation so far, and the function-invoking layer runs (or refuses) the calls in the next round.
                for (var round = 0; ; round++)
                {
                    var updates = new List<ChatResponseUpdate>();
                    List<ToolApprovalRequestContent>? requests = null;
                    await foreach (var update in chatClient.GetStreamingResponseAsync(prompt, options, cancellation).WithCancellation(cancellation))
                    {
                        updates.Add(update);
                        // By index: a foreach over the IList would box its enumerator for every delta.
                        var contents = update.Contents;
                        for (var c = 0; c < contents.Count; c++)
                        {
                            switch (contents[c])
                            {
                                case ToolApprovalRequestContent request:
                                    (requests ??= []).Add(request);
                                    break;
                                case TextContent { Text.Length: > 0 } delta:
                                    cancellation.ThrowIfCancellationRequested();

                                    // Limits hold while the reply streams, not only when the next message asks.
                                    if (tokens >= settings.MaxOutputTokens)
                                    {
                                        StopForLimit(generation, $"the reply reached the longest allowed, {settings.MaxOutputTokens} tokens (Chat:Model:MaxOutputTokens)");
                                    }

                                    // Read again now and then, without holding the stream up: a slow or frozen store must not stall the reply.
                                    if (reading is { IsCompleted: true })
                                    {
                                        remaining = reading.IsCompletedSuccessfully ? reading.Result ?? remaining : remaining;
                                        reading = null;
                                    }

                                    if (reading is null && tokens > 0 && tokens % BudgetCheckEvery == 0)
                                    {
                                        reading = RemainingOrNoneAsync(generation);
                                    }

                                    if (remaining is { } left && inputEstimate + tokens + cost.ToolTokens >= left)
                                    {
                                        StopForLimit(generation, budget.StoppedMessage());
                                    }

                                    if (firstTokenAt is null)
                                    {
                                        firstTokenAt = time.GetTimestamp();
                                        metrics.FirstToken(time.GetElapsedTime(started, firstTokenAt.Value));
                                    }

                                    await events.SetStateAsync(GenerationStates.Generating);
                                    tokens++;
                                    metrics.Token();
                                    batcher.Add(delta.Text);
                                    break;
                                case UsageContent reported:
                                    usage ??= new UsageDetails();
                                    usage.Add(reported.Details);
                                    break;
                                case ReplyNoteContent noted:
                                    note = noted.Note;
                                    break;
                            }
                        }
                    }

                    if (requests is null || round >= settings.MaxToolRounds)
                    {
                        break;
                    }

                    prompt.AddRange(updates.ToChatResponse().Messages);
                    var answers = new List<AIContent>();
                    foreach (var request in requests)
                    {
                        answers.Add(await AskApprovalAsync(generation, events, request, cancellation));
                    }

                    prompt.Add(new AiChatMessage(ChatRole.User, answers));
                }
            }

            await batcher.FlushAsync();
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            state = GenerationStates.Cancelled;
        }
        catch (GenerationGoneException)
        {
            // Another node already wrote this reply's final status: stop here, writing nothing more of it.
            GenerationLog.GivenUpElsewhere(logger, generation.RoomId, generation.Id);
            generation.TryCancel(StopRequest.LeaseLost);
            state = GenerationStates.Cancelled;
        }
        catch (ModelServerException ex)
        {
            // Already one readable sentence with no secret in it; the provider's original is not kept.
            state = GenerationStates.Failed;
            error = ex.Message;
            GenerationLog.ModelServerFailed(logger, generation.RoomId, generation.Id, error);
        }
        catch (Exception ex)
        {
            state = GenerationStates.Failed;
            error = ModelErrors.Describe(ex);
            GenerationLog.Failed(logger, generation.RoomId, generation.Id, error, ex);
        }

        try
        {
            // Every delta of the final text is in the room before the final status.
            await batcher.FlushAsync();
        }
        catch (GenerationGoneException) when (state == GenerationStates.Cancelled)
        {
        }
        catch (Exception ex) when (state != GenerationStates.Completed)
        {
            GenerationLog.Failed(logger, generation.RoomId, generation.Id, "its last deltas could not be written", ex);
        }

        // The reply counts against the budgets of whoever asked for it, however it ended: input and output as the
        // provider reported them (else the prompt's estimate and the deltas seen), and its tools' model calls.
        var spent = (usage?.OutputTokenCount is { } reportedOutput and > 0 ? (usage.InputTokenCount ?? inputEstimate) + reportedOutput : inputEstimate + tokens)
                    + cost.ToolTokens;
        if (spent > 0)
        {
            try
            {
                await budget.ChargeAsync(generation.RequestedBy, spent, CancellationToken.None);
            }
            catch (Exception ex)
            {
                GenerationLog.Failed(logger, generation.RoomId, generation.Id, "its tokens could not be counted", ex);
            }
        }

        var elapsed = time.GetElapsedTime(started);
        activity?.SetTag(ChatActivities.TokensTag, tokens);
        GenerationLog.Finished(logger, generation.RoomId, generation.Id, state, tokens,
            firstTokenAt is { } first ? (long)time.GetElapsedTime(started, first).TotalMilliseconds : -1, (long)elapsed.TotalMilliseconds);
        // What the reply used: the provider's count when it sent one for the whole reply; a reply that was stopped, or a
        // provider that sent none, counts the deltas streamed (about one token each) and estimates the prompt.
        var usageInfo = Usage(usage, tokens, inputEstimate, state);
        // The final text is what reached the room (the same as the model's text unless a write failed).
        return new StatusEvent(generation.RoomId, generation.Id, state, batcher.Written, error, usageInfo) { MessageId = generation.AssistantMessageId, Note = note };
    }

    private static UsageInfo? Usage(UsageDetails? reported, int deltas, long promptTokens, string state)
    {
        var input = reported?.InputTokenCount is { } i and > 0 ? i : promptTokens;
        var output = reported?.OutputTokenCount ?? 0;
        if (state == GenerationStates.Cancelled || reported is null)
        {
            output = Math.Max(output, deltas);
        }

        return reported is null && deltas == 0 && state != GenerationStates.Cancelled ? null : new UsageInfo(input, output);
    }

    /// <summary>
    /// Puts one tool call before the room (a <c>toolApproval</c> event, pending) and waits for a member's decision or the
    /// timeout; a stopped reply ends it as expired. The answer is the model's approval response: a denied or expired call
    /// is refused to the model, which goes on without it.
    /// </summary>
    private async Task<ToolApprovalResponseContent> AskApprovalAsync(Generation generation, GenerationEvents events, ToolApprovalRequestContent request,
        CancellationToken cancellation)
    {
        var call = request.ToolCall as FunctionCallContent;
        var approvalId = "a-" + Guid.NewGuid().ToString("N")[..16];
        var arguments = System.Text.Json.JsonSerializer.SerializeToElement(call?.Arguments ?? new Dictionary<string, object?>(), ChatJson.Options);
        var pending = new ToolApprovalEvent(generation.RoomId, generation.Id, approvalId, request.ToolCall.CallId, call?.Name ?? "tool", arguments,
            ApprovalStates.Pending);
        await approvals.OpenAsync(approvalId, generation.RoomId, CancellationToken.None);
        await events.SetStateAsync(GenerationStates.Tool);
        await events.AppendApprovalAsync(pending);
        var decision = await approvals.WaitAsync(approvalId, toolOptions.Value.ApprovalTimeout, cancellation);
        await events.AppendApprovalAsync(pending with { State = decision.State, DecidedBy = decision.By });
        cancellation.ThrowIfCancellationRequested();
        await events.SetStateAsync(GenerationStates.Thinking);
        var reason = decision.State switch
        {
            ApprovalStates.Approved => null,
            ApprovalStates.Denied => $"{decision.By?.Name ?? "A member"} of the room denied it.",
            _ => "Nobody in the room approved it in time.",
        };
        return request.CreateResponse(decision.Approved, reason);
    }

    // How often (in deltas) a streaming reply reads the budget again, for the user's other replies spending it meanwhile.
    private const int BudgetCheckEvery = 200;

    // The budget left, or null when it cannot be read now (it was checked when the message was accepted).
    private async Task<long?> RemainingOrNoneAsync(Generation generation)
    {
        try
        {
            return await budget.RemainingAsync(generation.RequestedBy, CancellationToken.None).WaitAsync(BudgetReadTimeout);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return null;
        }
    }

    private static readonly TimeSpan BudgetReadTimeout = TimeSpan.FromSeconds(2);

    // Ends the reply as cancelled by the server for a limit; the next check of the token throws.
    private static void StopForLimit(Generation generation, string error)
    {
        generation.TryCancel(new StopRequest(null, CancelReasons.Limit, error));
        generation.Cancellation.Token.ThrowIfCancellationRequested();
    }

    private async Task<List<AiChatMessage>> BuildPromptAsync(Generation generation)
    {
        var settings = modelOptions.Value;
        var history = await store.GetHistoryAsync(generation.RoomId, settings.MaxHistoryMessages + 8);
        var candidates = history.Where(m => m.Seq <= generation.UserMessageSeq && PromptHistory.IsConversation(m)).TakeLast(settings.MaxHistoryMessages).ToList();
        var budget = settings.MaxHistoryTokens - PromptHistory.EstimateTokens(settings.SystemPrompt);
        var prompt = new List<AiChatMessage> { new(ChatRole.System, settings.SystemPrompt) };
        foreach (var message in PromptHistory.Newest(candidates, budget))
        {
            prompt.Add(message.Role == MessageRoles.User
                ? new AiChatMessage(ChatRole.User, PromptHistory.Render(message)) { AuthorName = SafeAuthorName(message.AuthorName), MessageId = message.MessageId }
                : new AiChatMessage(ChatRole.Assistant, message.Text));
        }

        return prompt;
    }

    // OpenAI accepts ^[a-zA-Z0-9_-]{1,64}$ as a message author name.
    private static string? SafeAuthorName(string name)
    {
        var safe = new string(name.Where(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-').ToArray());
        return safe.Length == 0 ? null : safe;
    }

    /// <summary>Appends the generation's status and tool events in the order they happen.</summary>
    private sealed class GenerationEvents(IRoomStore store, Generation generation, TokenBatcher tokens) : IToolEvents
    {
        private string? _state;

        public string RoomId => generation.RoomId;

        public async ValueTask SetStateAsync(string state)
        {
            if (_state == state)
            {
                return;
            }

            _state = state;
            await tokens.FlushAsync();
            await store.AppendAsync(new StatusEvent(generation.RoomId, generation.Id, state) { MessageId = generation.AssistantMessageId }, CancellationToken.None);
        }

        public async ValueTask AppendApprovalAsync(ToolApprovalEvent approval)
        {
            await tokens.FlushAsync();
            await store.AppendAsync(approval, CancellationToken.None);
        }

        public async ValueTask StartedAsync(string callId, string tool, CancellationToken cancellationToken)
        {
            await SetStateAsync(GenerationStates.Tool);
            await tokens.FlushAsync();
            await store.AppendAsync(new ToolProgressEvent(generation.RoomId, generation.Id, callId, tool, ToolPhases.Started) { Arguments = CallArguments() },
                CancellationToken.None);
        }

        // The arguments the model sent for the call being invoked (parsed once whole); none when they were not valid JSON.
        private static System.Text.Json.JsonElement? CallArguments()
        {
            var call = FunctionInvokingChatClient.CurrentContext?.CallContent;
            if (call is null || call.Exception is not null)
            {
                return null;
            }

            try
            {
                return System.Text.Json.JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, object?>(), ChatJson.Options);
            }
            catch (Exception ex) when (ex is NotSupportedException or System.Text.Json.JsonException)
            {
                return null;
            }
        }

        public ValueTask ProgressAsync(string callId, string tool, double fraction, string? detail, CancellationToken cancellationToken) =>
            AppendAsync(callId, tool, ToolPhases.Progress, fraction, detail);

        public async ValueTask CompletedAsync(string callId, string tool, string result, CancellationToken cancellationToken)
        {
            await AppendAsync(callId, tool, ToolPhases.Completed, 1, Shorten(result));
            await SetStateAsync(GenerationStates.Thinking);
        }

        public async ValueTask FailedAsync(string callId, string tool, string error, CancellationToken cancellationToken)
        {
            await AppendAsync(callId, tool, ToolPhases.Failed, null, Shorten(error));
            await SetStateAsync(GenerationStates.Thinking);
        }

        private async ValueTask AppendAsync(string callId, string tool, string phase, double? progress, string? detail)
        {
            await tokens.FlushAsync();
            await store.AppendAsync(new ToolProgressEvent(generation.RoomId, generation.Id, callId, tool, phase, progress, detail), CancellationToken.None);
        }

        private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
    }
}
