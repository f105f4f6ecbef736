import { readFileSync } from "node:fs";
import { GeneralChatWrapper, LlamaText, resolveChatWrapper, type ChatHistoryItem, type ChatModelFunctionCall, type ChatModelFunctions, type ChatModelResponse, type ChatWrapper, type LlamaModel, type ResolveChatWrapperOptions, type Token } from "node-llama-cpp";
import { ApiError, invalidRequest } from "../errors.js";
import { TemplateWorker } from "./template-worker.js";
import { ChatTemplate, compareWithTemplate, llamaTextString, type ChatInput, type SpecialStrings, type TemplateDefaults } from "./chat-template.js";
import type { ChatMessage, PromptInput, ToolDefinition } from "./types.js";

export interface RenderedPrompt {
  tokens: Token[];
  /** Text that ends the answer (the template's end-of-turn markers). */
  stopStrings: string[];
  /** Special tokens that end the answer besides the model's end-of-generation tokens. */
  stopTokens: Token[];
  /** engine.stop (chat prompts only): text that ends a free answer, not one a grammar shapes. */
  turnStops: readonly string[];
  /** The answer starts inside the template's thinking block (the template opened it). */
  opensInThought: boolean;
}

/** The text that opens and closes the template's thinking block; prefix "" when the template opens it itself. */
export interface ThoughtMarkers {
  prefix: string;
  suffix: string;
}

/** A conversation the template renders beforehand, off the event loop: its text, or undefined where the wrapper renders it. */
export interface Rendered {
  text: string | undefined;
}

/** Conversations up to this long render inline: even a quadratic template takes milliseconds for them. */
const INLINE_MESSAGES = 64;

/** A `chatTemplate` setting that names a Jinja file (llama-server's --chat-template-file) rather than a wrapper. */
const isTemplateFile = (setting: string) => setting.endsWith(".jinja") || setting.includes("/");

/**
 * Renders OpenAI messages as the model was trained to read them, and legacy text prompts as BOS + text.
 * The model's own Jinja chat template (from its GGUF, or a file) is the reference, rendered as Hugging
 * Face and llama-server --jinja render it (chat-template.ts). node-llama-cpp's matching wrapper is used
 * instead only where it writes exactly the same text for a set of probe conversations, since its function
 * calling and thought handling then come for free; where it differs (a fixed date, an empty thinking block,
 * another system-prompt joiner), the template itself is rendered. A model without a template gets
 * node-llama-cpp's fallback wrapper; `chatTemplate` may also name a wrapper outright.
 */
export class PromptRenderer {
  readonly chatWrapper: ChatWrapper;
  readonly thoughtMarkers: ThoughtMarkers | undefined;
  /** The model's own template, when it has one (and chatTemplate does not name a wrapper). */
  readonly template: ChatTemplate | undefined;
  /** The wrapper writes what the template writes: prompts go through the wrapper. */
  readonly wrapperIsFaithful: boolean;
  private readonly specials: SpecialStrings;

  constructor(
    private readonly model: ModelView,
    setting = "auto",
    defaults: TemplateDefaults = { thinking: true },
    /** engine.stop: strings that end an answer as the template's own end-of-turn markers do. */
    private readonly turnStops: readonly string[] = [],
  ) {
    const { bosString, eosString, shouldPrependBosToken } = model.tokens;
    this.specials = { bos: bosString ?? "", eos: eosString ?? "", addsBos: shouldPrependBosToken && model.tokens.bos !== null };
    const file = isTemplateFile(setting);
    const source = file ? readFileSync(setting, "utf8") : setting === "auto" ? (model.fileInfo.metadata.tokenizer as { chat_template?: string } | undefined)?.chat_template : undefined;
    // node-llama-cpp's resolution as resolveChatWrapper(model) does it, for a template from a file too.
    const resolve = (type: string, fileInfo = model.fileInfo) =>
      resolveChatWrapper({ type: type as ResolveChatWrapperOptions["type"], bosString, filename: model.filename, fileInfo, tokenizer: model.tokenizer, warningLogs: false });
    const wrapper = file ? (resolve("auto", withTemplate(model, source!)) ?? new GeneralChatWrapper()) : setting === "auto" ? (resolve("auto") ?? new GeneralChatWrapper()) : resolve(setting);
    if (!wrapper) throw new Error(`unknown chat template '${setting}'`);
    this.chatWrapper = wrapper;
    this.thoughtMarkers = thoughtMarkersOf(wrapper);
    const template = source ? new ChatTemplate(source, this.specials, defaults) : undefined;
    const withBos = (text: string) => (this.specials.addsBos ? this.specials.bos : "") + text;
    const fit = template ? compareWithTemplate(template, (input) => withBos(template.render(input)), (input) => this.wrapperText(input)) : undefined;
    // A template the Jinja engine cannot run at all (an unsupported filter or construct) is left to the wrapper.
    this.template = fit?.renders ? template : undefined;
    this.wrapperIsFaithful = fit?.wrapperIsFaithful ?? true;
  }


  get templateName(): string {
    return this.template && !this.wrapperIsFaithful ? "jinja" : this.chatWrapper.wrapperName;
  }

  /**
   * `openThought`: for templates that think first, open the thinking block as node-llama-cpp does (not when a grammar
   * must match the answer from its start). `rendered`: the template's text, rendered beforehand (renderOffThread).
   */
  render(prompt: PromptInput, { tools, openThought = true, args }: { tools?: readonly ToolDefinition[] | undefined; openThought?: boolean; args?: Record<string, unknown> | undefined } = {}, rendered?: Rendered): RenderedPrompt {
    return prompt.kind === "chat" ? this.renderChat({ messages: prompt.messages, tools, args }, openThought, rendered) : this.renderText(prompt.text);
  }

  /**
   * The text of a conversation's prompt as llama-server's /apply-template shows it: the template's text, without
   * the BOS the tokenizer adds in front of it when the prompt is evaluated (see withBos).
   */
  promptText(input: ChatInput, rendered?: Rendered): string {
    const text = this.templateText(input, rendered) ?? this.wrapperText(input);
    const { bos, addsBos } = this.specials;
    return addsBos && bos && text.startsWith(bos) ? text.slice(bos.length) : text;
  }

  /**
   * A long conversation's template text, rendered on a worker thread within `budget` (a short one, or one the
   * template does not render, gives undefined: render() does it inline). Pass the result to render() and promptText().
   */
  async renderOffThread(input: ChatInput, budget: { timeoutMs: number; signal?: AbortSignal }): Promise<Rendered | undefined> {
    if (input.messages.length <= INLINE_MESSAGES || !this.usesTemplate(input)) return undefined;
    this.worker ??= new TemplateWorker();
    try {
      return { text: await this.template!.renderOffThread(input, this.worker, budget.timeoutMs, budget.signal) };
    } catch (error) {
      if (error instanceof ApiError || budget.signal?.aborted) throw error;
      return { text: this.wrapperFallback(input, error as Error) };
    }
  }

  close(): void {
    this.worker?.close();
  }

  private worker: TemplateWorker | undefined;

  /** The template's text for a conversation (rendered beforehand, or now), or undefined where the wrapper writes it. */
  private templateText(input: ChatInput, rendered: Rendered | undefined): string | undefined {
    if (rendered) return rendered.text;
    return this.usesTemplate(input) ? this.templateRendering(input) : undefined;
  }

  private usesTemplate(input: ChatInput): boolean {
    return this.template !== undefined && (!this.wrapperIsFaithful || (input.args !== undefined && Object.keys(input.args).length > 0));
  }

  /**
   * The template's text, or undefined where it cannot render this conversation (a construct the Jinja engine
   * lacks, or the template's own refusal): the wrapper then renders it, as before templates were the reference.
   * Only when the wrapper fails as well is it the request's 400.
   */
  private templateRendering(input: ChatInput): string | undefined {
    try {
      return this.template!.render(input);
    } catch (error) {
      return this.wrapperFallback(input, error as Error);
    }
  }

  /** undefined when the wrapper renders what the template refused; the request's 400 when it cannot either. */
  private wrapperFallback(input: ChatInput, error: Error): undefined {
    try {
      this.wrapperText(input);
    } catch {
      throw invalidRequest(`This model's chat template cannot render these messages: ${error.message}`, "messages", "chat_template_error");
    }
    return undefined;
  }

  private wrapperText(input: ChatInput): string {
    return llamaTextString(this.wrapperContext(input.messages, input.tools, true).contextText, this.specials);
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
    return { tokens: withBos(this.model, this.model.tokenize(text)), stopStrings: [], stopTokens: [], turnStops: [], opensInThought: false };
  }

  /** The wrapper's context for a conversation; for templates that think first, node-llama-cpp opens the block on the answer's first token, and so do we. */
  private wrapperContext(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | undefined, openThought: boolean) {
    const state = this.chatWrapper.generateContextState({
      chatHistory: this.chatHistory(messages),
      ...(tools?.length ? { availableFunctions: toFunctions(tools), documentFunctionParams: true } : {}),
    });
    const thought = this.chatWrapper.settings.segments?.thought;
    const opens = openThought && this.thoughtMarkers !== undefined && thought?.openOnResponseStart === true && this.thoughtMarkers.prefix !== "";
    return { state, opens, contextText: opens ? LlamaText([state.contextText, thought.prefix as LlamaText]) : state.contextText };
  }

  private renderChat(input: ChatInput, openThought: boolean, rendered: Rendered | undefined): RenderedPrompt {
    // The wrapper's end-of-turn triggers end the answer either way: they are the template's own markers.
    const { state, opens, contextText } = this.wrapperContext(input.messages, input.tools, openThought);
    const stopStrings: string[] = [];
    const turnStops = this.turnStops;
    const stopTokens: Token[] = [];
    for (const trigger of state.stopGenerationTriggers) this.classifyTrigger(trigger, stopStrings, stopTokens);
    const markers = this.thoughtMarkers;
    const text = this.templateText(input, rendered);
    if (text !== undefined) {
      const opensInThought = markers !== undefined && (markers.prefix === "" || text.trimEnd().endsWith(markers.prefix.trimEnd()));
      return { tokens: withBos(this.model, this.model.tokenize(text, true)), stopStrings, stopTokens, turnStops, opensInThought };
    }
    const opensInThought = markers !== undefined && (markers.prefix === "" || opens || contextText.toString().trimEnd().endsWith(markers.prefix.trimEnd()));
    return { tokens: contextText.tokenize(this.model.tokenizer), stopStrings, stopTokens, turnStops, opensInThought };
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

/** `tokens` as a prompt: with the model's BOS in front where its tokenizer wants one (and it is not there yet). */
export function withBos(model: Pick<LlamaModel, "tokens">, tokens: Token[]): Token[] {
  const { bos, shouldPrependBosToken } = model.tokens;
  return shouldPrependBosToken && bos !== null && tokens[0] !== bos ? [bos, ...tokens] : tokens;
}

/** What rendering needs of a model (a LlamaModel; tests give a stand-in). */
export type ModelView = Pick<LlamaModel, "tokens" | "fileInfo" | "tokenizer" | "tokenize" | "filename">;

/** The model's file info with another chat template in it, for node-llama-cpp's wrapper resolution. */
function withTemplate(model: ModelView, source: string) {
  const info = model.fileInfo;
  return { ...info, metadata: { ...info.metadata, tokenizer: { ...info.metadata.tokenizer, chat_template: source } } } as typeof info;
}

/**
 * The tools as node-llama-cpp's function calling takes them: it documents and constrains from the same schema,
 * so a tool whose schema was relaxed names what the grammar does not enforce in its description.
 */
export function toFunctions(tools: readonly ToolDefinition[]): ChatModelFunctions {
  return Object.fromEntries(
    tools.map((tool) => {
      const description = [tool.description, tool.enforced && `Also: ${tool.enforced.relaxed.join("; ")} (see the schema).`].filter(Boolean).join("\n");
      const params = tool.enforced?.parameters ?? tool.parameters;
      return [tool.name, { ...(description ? { description } : {}), ...(params ? { params: params as never } : {}) }];
    }),
  );
}

function thoughtMarkersOf(wrapper: ChatWrapper): ThoughtMarkers | undefined {
  const thought = wrapper.settings.segments?.thought;
  if (!thought?.suffix) return undefined;
  const openedByTemplate = typeof thought.prefix === "object" && !LlamaText.isLlamaText(thought.prefix);
  return { prefix: openedByTemplate ? "" : LlamaText(thought.prefix).toString(), suffix: LlamaText(thought.suffix).toString() };
}

function parseJsonOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
