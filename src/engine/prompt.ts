import { LlamaText, resolveChatWrapper, type ChatHistoryItem, type ChatModelFunctionCall, type ChatModelFunctions, type ChatModelResponse, type ChatWrapper, type LlamaModel, type ResolveChatWrapperOptions, type Token } from "node-llama-cpp";
import { invalidRequest } from "../errors.js";
import type { ChatMessage, PromptInput, ToolDefinition } from "./types.js";

export interface RenderedPrompt {
  tokens: Token[];
  /** Text that ends the answer (the template's end-of-turn markers). */
  stopStrings: string[];
  /** Special tokens that end the answer besides the model's end-of-generation tokens. */
  stopTokens: Token[];
  /** The answer starts inside the template's thinking block (the template opened it). */
  opensInThought: boolean;
}

/** The text that opens and closes the template's thinking block; prefix "" when the template opens it itself. */
export interface ThoughtMarkers {
  prefix: string;
  suffix: string;
}

/**
 * Renders OpenAI messages with the model's own chat template (node-llama-cpp's resolution from the
 * GGUF's Jinja template, or a wrapper matched by model name/architecture; GeneralChatWrapper when
 * nothing matches), and legacy text prompts as BOS + text. Tools are documented in the template's own
 * way, and earlier tool calls and their results are written in its own call syntax.
 */
export class PromptRenderer {
  readonly chatWrapper: ChatWrapper;
  readonly thoughtMarkers: ThoughtMarkers | undefined;

  constructor(
    private readonly model: LlamaModel,
    template = "auto",
  ) {
    const wrapper = resolveChatWrapper(model, { type: template as ResolveChatWrapperOptions["type"], warningLogs: false });
    if (!wrapper) throw new Error(`unknown chat template '${template}'`);
    this.chatWrapper = wrapper;
    this.thoughtMarkers = thoughtMarkersOf(wrapper);
  }

  get templateName(): string {
    return this.chatWrapper.wrapperName;
  }

  /** `openThought`: for templates that think first, open the thinking block as node-llama-cpp does (not when a grammar must match the answer from its start). */
  render(prompt: PromptInput, { tools, openThought = true }: { tools?: readonly ToolDefinition[] | undefined; openThought?: boolean } = {}): RenderedPrompt {
    return prompt.kind === "chat" ? this.renderChat(prompt.messages, tools, openThought) : this.renderText(prompt.text);
  }

  /** The conversation as node-llama-cpp's chat history, ending with the empty answer to write. */
  chatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = [];
    const calls = new Map<string, ChatModelFunctionCall>();
    for (const [index, message] of messages.entries()) {
      if (message.role === "tool") {
        const call = calls.get(message.toolCallId);
        if (!call)
          throw invalidRequest(`messages[${index}] answers tool call '${message.toolCallId}', which no earlier assistant message made.`, `messages[${index}].tool_call_id`, "invalid_value");
        call.result = parseJsonOr(message.content, message.content);
      } else if (message.role === "assistant") {
        const response: ChatModelResponse["response"] = message.content ? [message.content] : [];
        for (const call of message.toolCalls ?? []) {
          const item: ChatModelFunctionCall = { type: "functionCall", name: call.name, params: parseJsonOr(call.arguments, call.arguments), result: undefined };
          calls.set(call.id, item);
          response.push(item);
        }
        history.push({ type: "model", response });
      } else history.push(message.role === "system" ? { type: "system", text: message.content } : { type: "user", text: message.content });
    }
    history.push({ type: "model", response: [] });
    return history;
  }

  private renderText(text: string): RenderedPrompt {
    const { bos, shouldPrependBosToken } = this.model.tokens;
    const tokens = this.model.tokenize(text);
    return { tokens: shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens, stopStrings: [], stopTokens: [], opensInThought: false };
  }

  private renderChat(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | undefined, openThought: boolean): RenderedPrompt {
    const state = this.chatWrapper.generateContextState({
      chatHistory: this.chatHistory(messages),
      ...(tools?.length ? { availableFunctions: toFunctions(tools), documentFunctionParams: true } : {}),
    });
    const stopStrings: string[] = [];
    const stopTokens: Token[] = [];
    for (const trigger of state.stopGenerationTriggers) this.classifyTrigger(trigger, stopStrings, stopTokens);
    let contextText = state.contextText;
    let opensInThought = false;
    const thought = this.chatWrapper.settings.segments?.thought;
    const markers = this.thoughtMarkers;
    if (markers && thought) {
      // Templates that think first: node-llama-cpp opens the block on the answer's first token; so do we.
      const opens = openThought && thought.openOnResponseStart === true && markers.prefix !== "";
      if (opens) contextText = LlamaText([contextText, thought.prefix as LlamaText]);
      opensInThought = markers.prefix === "" || opens || contextText.toString().trimEnd().endsWith(markers.prefix.trimEnd());
    }
    return { tokens: contextText.tokenize(this.model.tokenizer), stopStrings, stopTokens, opensInThought };
  }

  private classifyTrigger(trigger: LlamaText, stopStrings: string[], stopTokens: Token[]): void {
    if (trigger.values.every((value) => typeof value === "string")) {
      stopStrings.push(trigger.values.join(""));
      return;
    }
    const tokens = trigger.tokenize(this.model.tokenizer);
    if (tokens.length === 1) stopTokens.push(tokens[0]!);
  }
}

export function toFunctions(tools: readonly ToolDefinition[]): ChatModelFunctions {
  return Object.fromEntries(
    tools.map((tool) => [tool.name, { ...(tool.description ? { description: tool.description } : {}), ...(tool.parameters ? { params: tool.parameters as never } : {}) }]),
  );
}

function thoughtMarkersOf(wrapper: ChatWrapper): ThoughtMarkers | undefined {
  const thought = wrapper.settings.segments?.thought;
  if (!thought?.suffix) return undefined;
  const openedByTemplate = typeof thought.prefix === "object" && !LlamaText.isLlamaText(thought.prefix);
  return { prefix: openedByTemplate ? "" : LlamaText(thought.prefix as LlamaText).toString(), suffix: LlamaText(thought.suffix).toString() };
}

function parseJsonOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
