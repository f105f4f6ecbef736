import { resolveChatWrapper, type ResolveChatWrapperOptions, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type LlamaText, type Token } from "node-llama-cpp";
import type { ChatMessage, PromptInput } from "./types.js";

export interface RenderedPrompt {
  tokens: Token[];
  /** Text that ends the answer (the template's end-of-turn markers). */
  stopStrings: string[];
  /** Special tokens that end the answer besides the model's end-of-generation tokens. */
  stopTokens: Token[];
}

/**
 * Renders OpenAI messages with the model's own chat template (node-llama-cpp's resolution from the
 * GGUF's Jinja template, or a wrapper matched by model name/architecture; GeneralChatWrapper when
 * nothing matches), and legacy text prompts as BOS + text.
 */
export class PromptRenderer {
  private readonly chatWrapper: ChatWrapper;

  constructor(
    private readonly model: LlamaModel,
    template = "auto",
  ) {
    const wrapper = resolveChatWrapper(model, { type: template as ResolveChatWrapperOptions["type"], warningLogs: false });
    if (!wrapper) throw new Error(`unknown chat template '${template}'`);
    this.chatWrapper = wrapper;
  }

  get templateName(): string {
    return this.chatWrapper.wrapperName;
  }

  render(prompt: PromptInput): RenderedPrompt {
    return prompt.kind === "chat" ? this.renderChat(prompt.messages) : this.renderText(prompt.text);
  }

  private renderText(text: string): RenderedPrompt {
    const { bos, shouldPrependBosToken } = this.model.tokens;
    const tokens = this.model.tokenize(text);
    return { tokens: shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens, stopStrings: [], stopTokens: [] };
  }

  private renderChat(messages: readonly ChatMessage[]): RenderedPrompt {
    const chatHistory: ChatHistoryItem[] = messages.map(toHistoryItem);
    chatHistory.push({ type: "model", response: [] });
    const state = this.chatWrapper.generateContextState({ chatHistory });
    const stopStrings: string[] = [];
    const stopTokens: Token[] = [];
    for (const trigger of state.stopGenerationTriggers) this.classifyTrigger(trigger, stopStrings, stopTokens);
    return { tokens: state.contextText.tokenize(this.model.tokenizer), stopStrings, stopTokens };
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

function toHistoryItem(message: ChatMessage): ChatHistoryItem {
  switch (message.role) {
    case "system":
      return { type: "system", text: message.content };
    case "user":
      return { type: "user", text: message.content };
    case "assistant":
      return { type: "model", response: [message.content] };
  }
}
