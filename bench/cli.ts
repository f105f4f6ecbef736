import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
const HELP = { help: { type: "boolean", default: false } } as const;

/** A bench script's flags; `--help` prints its usage and exits. */
export function benchFlags<O extends Options>(usage: string, options: O) {
  const { values } = parseArgs<{ options: O & typeof HELP }>({ options: { ...options, ...HELP } });
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}
