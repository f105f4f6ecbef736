import type { Template } from "@huggingface/jinja";
import { SpecialToken, SpecialTokensText, type LlamaText } from "node-llama-cpp";
import { ApiError } from "../errors.js";
import { parseTemplate } from "./jinja-semantics.js";
import type { TemplateWorker } from "./template-worker.js";
import type { ChatMessage, ToolDefinition } from "./types.js";

/** What a chat prompt is made of: the conversation, the tools offered, and the template's own arguments (chat_template_kwargs). */
export interface ChatInput {
  messages: readonly ChatMessage[];
  tools?: readonly ToolDefinition[] | undefined;
  args?: Record<string, unknown> | undefined;
}

export interface SpecialStrings {
  bos: string;
  eos: string;
  /** The tokenizer adds BOS itself: a BOS the template writes is removed from the text (llama.cpp does the same). */
  addsBos: boolean;
}

/**
 * `thinking`: the value of `enable_thinking` when the request does not set it. llama-server passes true for every
 * template that can think (a reasoning model reasons unless asked not to); a request's template arguments win.
 */
export interface TemplateDefaults {
  thinking: boolean;
}

/**
 * A model's own Jinja chat template rendered as Hugging Face's apply_chat_template and llama-server's
 * --jinja render it: `messages` in OpenAI's shape (tool call arguments as objects), `tools` as function
 * schemas, `add_generation_prompt`, `bos_token` / `eos_token`, today's date (`strftime_now`, `date_string`,
 * `datetime`), `enable_thinking` (see TemplateDefaults), and the request's template arguments on top
 * (`enable_thinking`, `reasoning_effort`, …). Loops run as jinja2 runs them (jinja-semantics.ts).
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specials: SpecialStrings,
    private readonly defaults: TemplateDefaults = { thinking: true },
  ) {
    this.template = parseTemplate(source);
  }

  /**
   * The template's text for a conversation. A template that refuses system messages (Gemma's) gets them merged
   * into the first user message, joined with "\n", as llama.cpp's Jinja engine does; any other refusal throws.
   */
  render(input: ChatInput): string {
    try {
      return this.renderAsIs(input);
    } catch (error) {
      const merged = systemMergedIntoUser(input.messages);
      if (!merged) throw error;
      return this.renderAsIs({ ...input, messages: merged });
    }
  }

  /** The same text, rendered on `worker` within `timeoutMs` (a long conversation: see template-worker.ts). */
  async renderOffThread(input: ChatInput, worker: TemplateWorker, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    const render = async (messages: readonly ChatMessage[]) => this.withoutBos(await worker.render(this.template.parsed, this.context({ ...input, messages }), timeoutMs, signal));
    try {
      return await render(input.messages);
    } catch (error) {
      const merged = error instanceof ApiError || signal?.aborted ? undefined : systemMergedIntoUser(input.messages);
      if (!merged) throw error;
      return render(merged);
    }
  }

  private renderAsIs(input: ChatInput): string {
    return this.withoutBos(this.template.render(this.context(input)));
  }

  /** The variables the template is rendered with: plain data, so that a worker thread can take them. */
  private context({ messages, tools, args }: ChatInput): Record<string, unknown> {
    const now = new Date();
    return {
      // llama.cpp passes both (Llama 3.1's template would write a fixed date without date_string).
      date_string: todayAsDateString(now),
      datetime: `${MONTHS[now.getMonth()]} ${String(now.getDate()).padStart(2, "0")} ${now.getFullYear()}`,
      enable_thinking: this.defaults.thinking,
      ...args,
      messages: messages.map(templateMessage),
      ...(tools?.length ? { tools: tools.map(templateTool) } : {}),
      add_generation_prompt: true,
      bos_token: this.specials.bos,
      eos_token: this.specials.eos,
    };
  }

  private withoutBos(text: string): string {
    return this.specials.addsBos && this.specials.bos && text.startsWith(this.specials.bos) ? text.slice(this.specials.bos.length) : text;
  }
}

/** Today as "01 Dec 2026" (strftime's "%d %b %Y"). */
export function todayAsDateString(now = new Date()): string {
  return `${String(now.getDate()).padStart(2, "0")} ${MONTHS[now.getMonth()]} ${now.getFullYear()}`;
}
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** System messages folded into the next user message (for templates without a system role); undefined when there is none. */
export function systemMergedIntoUser(messages: readonly ChatMessage[]): ChatMessage[] | undefined {
  if (!messages.some((m) => m.role === "system")) return undefined;
  const merged: ChatMessage[] = [];
  let pending = "";
  for (const message of messages) {
    if (message.role === "system") pending = pending ? `${pending}\n${message.content}` : message.content;
    else if (message.role === "user" && pending) {
      merged.push({ role: "user", content: message.content ? `${pending}\n${message.content}` : pending });
      pending = "";
    } else merged.push(message);
  }
  return merged;
}

function templateMessage(message: ChatMessage): Record<string, unknown> {
  if (message.role === "tool") return { role: "tool", tool_call_id: message.toolCallId, content: message.content };
  if (message.role === "assistant" && message.toolCalls?.length)
    return {
      role: "assistant",
      content: message.content,
      tool_calls: message.toolCalls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: parseJsonOr(call.arguments) } })),
    };
  return { role: message.role, content: message.content };
}

function templateTool(tool: ToolDefinition): Record<string, unknown> {
  return { type: "function", function: { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.parameters ?? { type: "object", properties: {} } } };
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A node-llama-cpp LlamaText as the text the model sees, special tokens written as the tokenizer writes them. */
export function llamaTextString(text: LlamaText, specials: Pick<SpecialStrings, "bos" | "eos">): string {
  return text.values
    .map((value) => {
      if (typeof value === "string") return value;
      if (value instanceof SpecialTokensText) return value.value;
      if (value instanceof SpecialToken) return value.value === "BOS" ? specials.bos : value.value === "EOS" || value.value === "EOT" ? specials.eos : value.value === "NL" ? "\n" : "";
      return "";
    })
    .join("");
}

/** Conversations that probe whether a node-llama-cpp wrapper writes exactly what the template writes. */
export function probeConversations(templateSource: string): ChatInput[] {
  const probes: ChatInput[] = [
    { messages: [{ role: "user", content: "Hello there." }] },
    { messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Hello there." }] },
    { messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Hi." }, { role: "assistant", content: "Hello! How can I help?" }, { role: "user", content: "Tell me a story." }] },
  ];
  if (/tool/.test(templateSource))
    probes.push({
      messages: [
        { role: "user", content: "What is the weather in Paris?" },
        { role: "assistant", content: "", toolCalls: [{ id: "call00001", name: "get_weather", arguments: '{"city":"Paris"}' }] },
        { role: "tool", toolCallId: "call00001", content: '{"temperature":21}' },
      ],
      tools: [{ name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }],
    });
  return probes;
}

/**
 * Whether the template renders at all (a template the Jinja engine cannot run is left to the wrapper), and
 * whether a node-llama-cpp wrapper writes every probe exactly as the template does (its function calling and
 * thought handling may then stay): `templateText` and `wrapperText` are the texts the engine would evaluate.
 */
export function compareWithTemplate(template: ChatTemplate, templateText: (input: ChatInput) => string, wrapperText: (input: ChatInput) => string): { renders: boolean; wrapperIsFaithful: boolean } {
  let renders = false;
  let wrapperIsFaithful = true;
  for (const probe of probeConversations(template.source)) {
    let expected: string;
    try {
      expected = templateText(probe);
      renders = true;
    } catch {
      continue; // a probe the template refuses (tool turns in a template without tools) says nothing
    }
    if (!wrapperIsFaithful) continue; // one difference decides it; the wrapper's rendering is the costly part
    try {
      if (wrapperText(probe) !== expected) wrapperIsFaithful = false;
    } catch {
      wrapperIsFaithful = false;
    }
  }
  return { renders, wrapperIsFaithful: renders ? wrapperIsFaithful : true };
}
