import { parse, Template, tokenize } from "@huggingface/jinja";

// Where @huggingface/jinja is stricter than the engines chat templates are written for. Python's jinja2 (Hugging
// Face's apply_chat_template) and llama.cpp's Jinja engine run a `for` loop over an undefined value zero times (its
// `else` block runs) and give "" for a string filter applied to one (`x.description|trim`); @huggingface/jinja
// throws. Hermes-3's tool_use template loops over `tools` unguarded and trims parameter descriptions a schema may
// lack: llama-server renders it, and so must we. The rules are written into the parsed program (a loop over a
// name or attribute reads `(x if x is defined else [])`, a string filter's operand `(x if x is defined else "")`),
// so the program stays plain data that a worker thread can take as it is.

type Node = { type: string; [key: string]: unknown };

/** The template, parsed once, with jinja2's loop semantics. */
export function parseTemplate(source: string): Template {
  const template = new Template(source);
  undefinedAsEmpty(template.parsed as unknown);
  return template;
}

/** Filters that read their operand as a string: jinja2 gives "" for an undefined one. */
const STRING_FILTERS = new Set(["trim", "upper", "lower", "title", "capitalize", "length", "string"]);

function undefinedAsEmpty(node: unknown): void {
  if (Array.isArray(node)) {
    for (const child of node) undefinedAsEmpty(child);
    return;
  }
  if (!isNode(node)) return;
  if (node.type === "For") {
    const iterable = node.iterable as Node;
    // `for x in xs if test`: the filtered value is its left-hand side.
    if (iterable.type === "SelectExpression") iterable.lhs = orEmpty(iterable.lhs as Node, "[]");
    else node.iterable = orEmpty(iterable, "[]");
  }
  if (node.type === "FilterExpression" && STRING_FILTERS.has(filterName(node.filter as Node))) node.operand = orEmpty(node.operand as Node, '""');
  for (const value of Object.values(node)) if (typeof value === "object") undefinedAsEmpty(value);
}

const filterName = (filter: Node): string => String(filter.type === "Identifier" ? filter.value : filter.type === "CallExpression" ? (filter.callee as Node).value : "");

/** `value if value is defined else <empty>` for a name or attribute; anything else (a call, a literal) as it is. */
function orEmpty(value: Node, empty: "[]" | '""'): Node {
  if (value.type !== "Identifier" && value.type !== "MemberExpression") return value;
  const ternary = (parse(tokenize(`{% for _ in (_v if _v is defined else ${empty}) %}{% endfor %}`)).body[0] as unknown as Node).iterable as Node;
  (ternary.condition as Node).operand = value;
  ternary.trueExpr = value;
  return ternary;
}

const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null && typeof (value as Node).type === "string";
