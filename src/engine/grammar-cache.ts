import type { Llama, LlamaGrammar } from "node-llama-cpp";
import { invalidRequest } from "../errors.js";
import { toGrammarSchema } from "./json-schema-grammar.js";
import type { OutputConstraint } from "./types.js";

const MAX_GRAMMARS = 32;

/** Compiled grammars by constraint, least recently used dropped first: clients tend to resend the same schema. */
export class GrammarCache {
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  constructor(private readonly llama: Llama) {}

  get(constraint: OutputConstraint): Promise<LlamaGrammar> {
    const key = JSON.stringify(constraint);
    const cached = this.grammars.get(key);
    if (cached) {
      this.grammars.delete(key);
      this.grammars.set(key, cached);
      return cached;
    }
    const compiled = this.compile(constraint);
    this.grammars.set(key, compiled);
    compiled.catch(() => this.grammars.delete(key));
    if (this.grammars.size > MAX_GRAMMARS) this.grammars.delete(this.grammars.keys().next().value!);
    return compiled;
  }

  private async compile(constraint: OutputConstraint): Promise<LlamaGrammar> {
    try {
      if (constraint.kind === "json") return await this.llama.getGrammarFor("json");
      if (constraint.kind === "json_schema") return await this.llama.createGrammarForJsonSchema(toGrammarSchema(constraint.schema) as never);
      return await this.llama.createGrammar({ grammar: constraint.grammar });
    } catch (error) {
      const param = constraint.kind === "gbnf" ? "grammar" : "response_format";
      throw invalidRequest(`The ${constraint.kind === "gbnf" ? "grammar" : "JSON schema"} could not be compiled: ${(error as Error).message}`, param, "invalid_grammar");
    }
  }
}
